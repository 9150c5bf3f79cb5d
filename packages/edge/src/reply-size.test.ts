import { describe, expect, it } from 'vitest';
import { bytesCost, keptBytes, ReplyBudget } from './reply-size.ts';

describe('reply size', () => {
  it('keeps whole UTF-8 characters, and at least one', () => {
    const buf = Buffer.from('ab€€€');
    // Each byte of a multi-byte character counts 2: 'ab€' costs 8.
    expect(buf.subarray(0, keptBytes(buf, 8)).toString()).toBe('ab€');
    expect(buf.subarray(0, keptBytes(buf, 7)).toString()).toBe('ab');
    expect(keptBytes(Buffer.from('\x01\x01'), 1)).toBe(1);
    expect(keptBytes(Buffer.from('€'), 1)).toBe(3);
    expect(keptBytes(Buffer.from('plain'), 100)).toBe(5);
  });

  it('counts what kept bytes cost in an answer', () => {
    expect(bytesCost(Buffer.from('ab'))).toBe(2);
    expect(bytesCost(Buffer.from('\x01"\n'))).toBe(6 + 2 + 2);
    expect(bytesCost(Buffer.from('€'))).toBe(6);
    expect(bytesCost(Buffer.from('abc'), 1)).toBe(1);
  });

  it('makes claims past the budget wait, first come first served, until earlier answers are released', async () => {
    const budget = new ReplyBudget(10);
    const order: string[] = [];
    const a = budget.lease();
    const b = budget.lease();
    const c = budget.lease();
    await a.claim(6);
    const bDone = b.claim(6).then(() => order.push('b'));
    // c would fit (6 + 3 <= 10) but b came first: no overtaking, so b cannot starve.
    const cDone = c.claim(3).then(() => order.push('c'));
    await Promise.resolve();
    expect(order).toEqual([]);
    expect(budget.queued).toBe(2);
    // A call that already holds a share gets more at once: two holders never wait on each other.
    await a.claim(100);
    expect(budget.held).toBe(106);
    a.release();
    a.release();
    await Promise.all([bDone, cDone]);
    expect(order).toEqual(['b', 'c']);
    expect(budget.held).toBe(9);
    b.release();
    c.release();
    expect(budget.held).toBe(0);
  });

  it('lets a claim larger than the whole budget through when it is alone, and forgets a lease released while waiting', async () => {
    const budget = new ReplyBudget(10);
    const big = budget.lease();
    await big.claim(50);
    const late = budget.lease();
    const granted = late.claim(5);
    late.release();
    big.release();
    await granted;
    expect(budget.held).toBe(0);
  });
});
