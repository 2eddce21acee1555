// typescript-eslint's type-checked recommendations over the TypeScript sources (src, dev, test).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-dev/**',
      'docs/**',
      'node_modules/**',
      'completions/**',
      'man/**',
      'examples/**',
      'bench/**',
      'scripts/**',
      'bin/**',
      'test/types/**',
      '*.config.*',
      'eslint.config.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: ['./tsconfig.json', './tsconfig.dev.json'], tsconfigRootDir: import.meta.dirname } },
  },
  {
    // Tests read what the CLI printed (JSON.parse: any) and feed it control characters on purpose.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'no-control-regex': 'off',
    },
  },
);
