// The error API's types, proven by the compiler: test/fixtures/error-types.ts must type-check
// (its @ts-expect-error lines are errors that must occur).
import { describe, expect, it } from 'vitest';
import { typeCheckFixture } from '../support/helpers';

describe('the error API types (tsc)', () => {
  it('type-check as the fixture says', () => {
    expect(typeCheckFixture('error-types.ts')).toBe('');
  }, 60_000);
});
