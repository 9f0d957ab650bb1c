import { ApiProperty } from '@nestjs/swagger';

export class ChannelCountsDto {
  @ApiProperty() web!: number;
  @ApiProperty() email!: number;
  @ApiProperty() phone!: number;
  @ApiProperty() other!: number;
}

export class LastContactDto {
  @ApiProperty({ description: 'Event time of the latest touchpoint' }) at!: string;
  @ApiProperty({ enum: ['web', 'email', 'phone', 'other'] }) channel!: string;
  @ApiProperty({ example: 'WebEventTracked' }) type!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'What it was about (e.g. the tracked event name)',
  })
  name!: string | null;
}

export class CustomerActivityDto {
  @ApiProperty({ example: 'user:u-42', description: 'user:<userId> or anon:<anonymousId>' })
  customerKey!: string;
  @ApiProperty({ type: ChannelCountsDto }) eventsByChannel!: ChannelCountsDto;
  @ApiProperty() totalEvents!: number;
  @ApiProperty() firstSeenAt!: string;
  @ApiProperty() lastSeenAt!: string;
  @ApiProperty({ type: LastContactDto }) lastContact!: LastContactDto;
}
