// Tests of the standardize step's logic: `node --test plugins/js/standardize/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fit, apply } from './scaler.js';

const table = (cols) => ({ columns: cols });

test('fit on train, apply to test', () => {
  const train = table([
    { name: 'x', type: 'float', values: [1, 2, 3, null] },
    { name: 'label', type: 'string', values: ['a', 'b', 'a', 'b'] },
  ]);
  const scaler = fit(train);
  assert.deepEqual(Object.keys(scaler.columns), ['x']);
  assert.equal(scaler.columns.x.mean, 2);
  assert.ok(Math.abs(scaler.columns.x.scale - Math.sqrt(2 / 3)) < 1e-12);
  const test_ = apply(scaler, table([{ name: 'x', type: 'int', values: [2, null] }, train.columns[1]]));
  assert.deepEqual(test_.columns[0].values, [0, null]);
  assert.equal(test_.columns[0].type, 'float');
  assert.deepEqual(test_.columns[1], train.columns[1]);
});

test('constant and excluded columns', () => {
  const t = table([
    { name: 'c', type: 'int', values: [5, 5] },
    { name: 'id', type: 'int', values: [1, 2] },
  ]);
  const scaler = fit(t, ['id']);
  assert.deepEqual(apply(scaler, t).columns[0].values, [0, 0]);
  assert.deepEqual(apply(scaler, t).columns[1].values, [1, 2]);
});

test('a fitted column missing later is an error', () => {
  const scaler = fit(table([{ name: 'x', type: 'float', values: [1, 2] }]));
  assert.throws(() => apply(scaler, table([])), /missing from this table/);
});

test('something that is not a table is named as such', () => {
  assert.throws(() => fit({ rows: [] }), /the training table is not a Weft table/);
  assert.throws(() => apply({ columns: {} }, { columns: [{ name: 'x' }] }), /not a Weft table/);
});
