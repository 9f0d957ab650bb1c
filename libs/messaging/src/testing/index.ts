export {
  Received,
  transportContract,
  uniqueName,
  waitUntil,
  type TransportContractCase,
  type TransportContractSetup,
} from './transport.contract';
