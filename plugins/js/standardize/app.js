// Weft step `standardize` (JavaScript): fits per-column mean and scale on the training
// table only, and applies them to both tables, so nothing of the test set leaks into training.
import * as w from '../sdk/weft-step.js';
import { fit, apply } from './scaler.js';

export const step = w.guest({
  describe() {
    return {
      name: 'standardize',
      version: '0.1.0',
      description:
        'Standardizes numeric columns to zero mean and unit variance, with the mean and (population) ' +
        'standard deviation fitted on the training table only and applied to both tables. Missing values ' +
        'stay missing; constant columns are centred.',
      inputs: [w.port('train', w.TABLE, 'Table to fit on (and transform)'), w.port('test', w.TABLE, 'Table to transform')],
      outputs: [
        w.port('train', w.TABLE, 'Standardized training table'),
        w.port('test', w.TABLE, 'Standardized test table'),
        w.port('scaler', 'application/json', 'Fitted mean and scale per column'),
      ],
      params: [w.param('exclude', 'str', '', 'Comma-separated numeric columns to leave as they are (ids, labels)')],
    };
  },

  run(params) {
    const exclude = new w.Params(params)
      .str('exclude')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const train = w.readJson('train');
    const test = w.readJson('test');
    let scaler;
    try {
      scaler = fit(train, exclude);
      w.writeJson('train', apply(scaler, train));
      w.writeJson('test', apply(scaler, test));
    } catch (e) {
      if (e && e.tag) throw e;
      throw w.badInput(e.message ?? String(e));
    }
    w.writeJson('scaler', scaler);
    w.metric('columns_scaled', Object.keys(scaler.columns).length);
  },
});
