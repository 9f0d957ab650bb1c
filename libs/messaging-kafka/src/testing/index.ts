export {
  kafkaBrokersForTests,
  kafkaBrokersForTestsSync,
  uniqueTopicName,
  type KafkaTestTarget,
} from './kafka-for-tests';
