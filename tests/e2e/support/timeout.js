// End-to-end tests start real processes and services: give them time (project configs cannot set testTimeout).
jest.setTimeout(120_000);
