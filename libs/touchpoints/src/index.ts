export {
  TouchpointError,
  isTouchpointError,
  type FieldError,
  type FieldRule,
  type TouchpointErrorCode,
} from './errors';
export * from './events';
export {
  TOUCHPOINT_EVENT_CATALOG,
  type CatalogField,
  type CatalogFieldType,
} from './event-catalog';
export { touchpointEventId } from './event-id';
export type { IgnoredItem, MappingContext, MappingResult, RejectedItem } from './result';
export type { HeaderBag } from './internal/headers';

export { normalizeEmail } from './identifiers/email';
export { normalizePhoneE164, type CountryCode } from './identifiers/phone';
export type { IdentifierFailureReason, NormalizeResult } from './identifiers/normalize-result';

export {
  OPEN_PIXEL_GIF,
  openPixelOpenedEvent,
  signOpenPixel,
  signTrackedLink,
  trackedLinkClickedEvent,
  verifyOpenPixelOrThrow,
  verifyTrackedLinkOrThrow,
  type OpenPixelInput,
  type SignedTracking,
  type TrackedLinkInput,
  type TrackingQuery,
  type TrackingRequest,
  type TrackingSecrets,
  type VerifiedOpenPixel,
  type VerifiedTrackedLink,
} from './tracking/tracking';

export { DEFAULT_TOLERANCE_SECONDS, type WebhookRequest } from './email/webhook-request';
export {
  mapSendGridEvents,
  receiveSendGridWebhook,
  SENDGRID_SIGNATURE_HEADER,
  SENDGRID_TIMESTAMP_HEADER,
  verifySendGridSignatureOrThrow,
  type SendGridWebhookConfig,
} from './email/sendgrid';
export {
  mapMailgunEvent,
  receiveMailgunWebhook,
  verifyMailgunSignatureOrThrow,
  type MailgunSignature,
  type MailgunWebhookConfig,
  type MailgunWebhookResult,
} from './email/mailgun';
export { InMemorySeenTokenStore, type SeenTokenStore } from './email/seen-token-store';
export {
  verifySnsMessageOrThrow,
  type SnsVerificationConfig,
  type VerifiedSnsMessage,
} from './email/sns';
export { mapSesEvent, receiveSesWebhook, type SesWebhookResult } from './email/ses';
export { verifyBasicAuthOrThrow, type BasicCredentials } from './email/basic-auth';
export {
  mapPostmarkEvent,
  receivePostmarkWebhook,
  type PostmarkWebhookConfig,
} from './email/postmark';

export {
  computeTwilioSignature,
  parseFormBody,
  TWILIO_SIGNATURE_HEADER,
  verifyTwilioSignatureOrThrow,
  type FormParams,
  type TwilioRequest,
} from './phone/twilio-signature';
export {
  mapTwilioIncomingSms,
  mapTwilioSmsStatus,
  mapTwilioVoiceStatus,
  receiveTwilioIncomingSms,
  receiveTwilioSmsStatus,
  receiveTwilioVoiceStatus,
  type CallEvent,
  type SmsEvent,
  type TwilioWebhookConfig,
} from './phone/twilio';
export {
  CONTACT_CENTRE_EVENT_TYPES,
  mapContactCentreEvents,
  type ContactCentreOptions,
} from './phone/contact-centre';
export {
  mapOtherContacts,
  OTHER_CONTACT_TYPES,
  type OtherContactEvent,
  type OtherContactOptions,
} from './other/other-contacts';
