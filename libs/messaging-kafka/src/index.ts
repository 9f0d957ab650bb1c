export {
  KafkaTransport,
  type KafkaLogLevel,
  type KafkaTransportLogger,
  type KafkaTransportOptions,
} from './kafka-transport';
