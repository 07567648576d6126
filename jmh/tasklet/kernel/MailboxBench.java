package tasklet.kernel;

import clojure.lang.AFn;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Micro-benchmarks of the kernel {@link Mailbox} on one thread (the consumer
 * is also the producer, so they measure the code path, not contention):
 *
 * <ul>
 *   <li>{@code putPoll}: put one message, take it with {@link Mailbox#poll()}.
 *   <li>{@code putScan}: put one message, take it with {@link Mailbox#scan} and
 *       a matcher accepting anything: the path {@code receive} takes.
 *   <li>{@code selectiveNaive}: the mailbox holds {@code backlog} messages no
 *       matcher accepts; put a reply and scan for it from the oldest message,
 *       past the whole backlog.
 *   <li>{@code selectiveMarked}: the same, with {@link Mailbox#mark()} before
 *       the put, so the scan starts after the backlog (Erlang's ref marker).
 *       With a backlog, each matched reply is the mailbox's last node and stays
 *       as a TAKEN hole that only a scan from the oldest message unlinks, and
 *       marked scans start past it: the holes pile up for the whole
 *       measurement, so this figure includes the GC of a growing list (a kernel
 *       issue this benchmark shows, not a benchmark artefact).
 * </ul>
 *
 * Run with {@code make jmh} (all) or {@code lein jmh MailboxBench.putScan -f 1}
 * (JMH's own options follow the alias).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MailboxBench {
  private static final Object NOISE = new Object();
  private static final Object MSG = new Object();

  /** Accepts any message. */
  private static final AFn ANY = new AFn() {
    @Override public Object invoke(Object m) { return m; }
  };

  /** Accepts only MSG: the backlog never matches. */
  private static final AFn ONLY_MSG = new AFn() {
    @Override public Object invoke(Object m) { return m == MSG ? m : null; }
  };

  /** An empty mailbox: each put-then-take leaves it empty again. */
  @State(Scope.Thread)
  public static class Empty {
    Mailbox mailbox;

    @Setup(Level.Trial)
    public void setUp() { mailbox = new Mailbox(); }
  }

  /** A mailbox holding {@code backlog} messages that no matcher accepts. */
  @State(Scope.Thread)
  public static class Backlog {
    @Param({"0", "100", "10000"})
    public int backlog;

    Mailbox mailbox;

    @Setup(Level.Trial)
    public void setUp() {
      mailbox = new Mailbox();
      for (int i = 0; i < backlog; i++) mailbox.put(NOISE);
    }
  }

  @Benchmark
  public Object putPoll(Empty s) {
    s.mailbox.put(MSG);
    return s.mailbox.poll();
  }

  @Benchmark
  public Object putScan(Empty s) {
    s.mailbox.put(MSG);
    return s.mailbox.scan(ANY);
  }

  @Benchmark
  public Object selectiveNaive(Backlog s) {
    s.mailbox.put(MSG);
    return s.mailbox.scan(ONLY_MSG);
  }

  @Benchmark
  public Object selectiveMarked(Backlog s) {
    s.mailbox.mark();
    s.mailbox.put(MSG);
    return s.mailbox.scan(ONLY_MSG);
  }
}
