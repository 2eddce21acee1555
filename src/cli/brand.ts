import type { Brand } from '../model.js';

export type { Brand };

export const LATCHKEY_BRAND: Brand = {
  name: 'latchkey',
  envPrefix: 'LATCHKEY',
  keychainService: 'latchkey',
  configDirName: 'latchkey',
  version: '0.1.0',
};
