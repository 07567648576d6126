package tasklet.kernel;

/**
 * One timer started by {@code send-after}, {@code exit-after} or
 * {@code send-interval}; also the timer ref its starter holds (compared by
 * identity). Small on purpose: a million pending timers cost a million of
 * these (about 64 bytes each) and a slot each in their node's
 * {@link ProcessTimers} heap, nothing else.
 *
 * <p>Fields are guarded by the {@link ProcessTimers} monitor, except the
 * per-target links ({@code prevT}/{@code nextT}), which are guarded by the
 * monitor of {@code target}.
 */
public final class Timer {
  static final byte SEND = 0, EXIT = 1;

  final ProcessTimers service;
  final byte kind;
  final long interval;   // nanos between sends of an interval timer; 0 for one shot
  long due;              // node clock, nanos
  Object dest;           // Pid, name, [name node-string] or alias Ref; null once cancelled or done
  Object msg;            // the message, or the exit reason
  Pid from;              // exit-after: who sends the exit signal
  Tasklet target;        // whose end cancels it (the local destination, or an interval's starter)
  Timer prevT, nextT;    // the target's list of timers (guarded by target)
  int index = -1;        // slot in the heap; -1 when not pending

  Timer(ProcessTimers service, byte kind, long interval, Object dest, Object msg, Pid from, Tasklet target) {
    this.service = service;
    this.kind = kind;
    this.interval = interval;
    this.dest = dest;
    this.msg = msg;
    this.from = from;
    this.target = target;
  }

  /** Cancel it: nanoseconds left, or -1 when not pending. Any thread. */
  public long cancel() { return service.cancel(this); }

  /** Nanoseconds left, or -1 when not pending. Any thread. */
  public long read() { return service.read(this); }

  @Override public String toString() {
    return "tasklet/timer " + (kind == EXIT ? "exit" : interval > 0 ? "interval" : "send")
        + "@" + Integer.toHexString(System.identityHashCode(this));
  }
}
