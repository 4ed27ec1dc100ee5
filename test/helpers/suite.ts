// uvu's suite, with its before and after hooks' errors shown. uvu runs the hooks inside a try whose finally
// returns, so an error thrown by a `before` (a rig that could not start, say) is dropped: the suite prints
// only "(0 / N)". Each hook here prints its error, with its stack, before uvu drops it.
import { suite as uvuSuite, type Callback, type Context, type Test } from 'uvu';

function reporting<State>(suiteName: string, hookName: string, hook: Callback<State>): Callback<State> {
  return async (context) => {
    try {
      await hook(context);
    } catch (error) {
      process.stderr.write(`${suiteName}: its ${hookName} hook failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      throw error;
    }
  };
}

/** A uvu suite whose hooks report their errors. */
export function suite<State = Context>(name: string, state?: State): Test<State> {
  const test = uvuSuite<State>(name, state);
  const wrap = (original: Test<State>['before'], hookName: string): Test<State>['before'] =>
    Object.assign((hook: Callback<State>) => original(reporting(name, hookName, hook)), {
      each: (hook: Callback<State>) => original.each(reporting(name, `${hookName}.each`, hook)),
    });
  test.before = wrap(test.before, 'before');
  test.after = wrap(test.after, 'after');
  return test;
}
