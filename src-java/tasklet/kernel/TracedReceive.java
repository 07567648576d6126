package tasklet.kernel;

import clojure.lang.IFn;

/**
 * A receive by a traced tasklet: the plain receive with a matcher that
 * remembers the message taken, then a "receive" trace event. Kept out of
 * {@link Tasklet} so that an untraced waiting tasklet's frame carries none of
 * this (every slot of a parked frame costs heap per waiting tasklet).
 */
final class TracedReceive {
  private TracedReceive() {}

  /** A matcher that remembers the message it accepted. */
  static final class Taking extends clojure.lang.AFn {
    final IFn matcher;
    Object taken;
    boolean took;

    Taking(IFn matcher) { this.matcher = matcher; }

    @Override public Object invoke(Object m) {
      Object r = matcher.invoke(m);
      if (r != null) {
        taken = m;
        took = true;
      }
      return r;
    }
  }

  /** {@link Tasklet#receive(IFn, long, Object, boolean)}, traced. Owner only. */
  static Object receive(Tasklet t, IFn matcher, long timeoutNanos, Object timeoutValue, boolean fromMark) {
    Taking tk = new Taking(matcher);
    Object r = t.receive(tk, timeoutNanos, timeoutValue, fromMark);
    Tracer tr = t.tracer();
    if (tr != null && tk.took) tr.trace(t.pid, "receive", tk.taken, null);
    return r;
  }
}
