import { campaignFromSearch } from './campaign';

describe('campaignFromSearch', () => {
  it('maps utm_campaign to name and every other utm_ parameter to its suffix, as Segment does', () => {
    expect(
      campaignFromSearch(
        '?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=shoes&utm_content=hero+image&utm_id=42',
      ),
    ).toEqual({
      source: 'newsletter',
      medium: 'email',
      name: 'spring sale',
      term: 'shoes',
      content: 'hero image',
      id: '42',
    });
  });

  it('ignores other parameters and answers undefined when there is no UTM parameter', () => {
    expect(campaignFromSearch('?ref=x&utm=1&utm_=2')).toBeUndefined();
    expect(campaignFromSearch('')).toBeUndefined();
    expect(campaignFromSearch('?a=1&utm_source=ads')).toEqual({ source: 'ads' });
  });

  it('reads names case-insensitively, keeps empty values and malformed escapes as written', () => {
    expect(campaignFromSearch('UTM_Source=Ads&utm_medium&utm_term=100%')).toEqual({
      source: 'Ads',
      medium: '',
      term: '100%',
    });
  });
});
