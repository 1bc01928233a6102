// FaultProxy's events, typed, proven by the compiler: test/fixtures/proxy-event-types.ts must
// type-check (its @ts-expect-error lines, a misspelled event among them, are errors that must occur).
import { describe, expect, it } from 'vitest';
import { typeCheckFixture } from '../support/helpers';

describe("the fault proxy's event types (tsc)", () => {
  it('type-check as the fixture says', () => {
    expect(typeCheckFixture('proxy-event-types.ts')).toBe('');
  }, 60_000);
});
