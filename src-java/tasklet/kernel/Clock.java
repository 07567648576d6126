package tasklet.kernel;

/**
 * The kernel's source of time, injectable so that tests drive it
 * ({@link ManualTime}). Monotonic nanoseconds, like {@link System#nanoTime()}.
 */
public interface Clock {
  /** Monotonic time in nanoseconds. Any thread. */
  long nanoTime();

  /** The real clock. */
  Clock SYSTEM = System::nanoTime;
}
