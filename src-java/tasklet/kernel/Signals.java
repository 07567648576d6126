package tasklet.kernel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Erlang's signals between tasklets: exit signals and what a tasklet's end
 * sets off (its links are {@link Links}', its monitors {@link Monitors}').
 * Bookkeeping on a tasklet happens under its monitor, by the kernel's one
 * lock-order rule ({@link Links#lockOrder}); messages and exit signals are
 * sent after the monitors are released.
 *
 * <p>The exit rules (doc/reference.md §2), applied by {@link #exitSignal}:
 * <ol>
 *   <li>{@code (exit pid :kill)}: untrappable; the target ends with {@code :killed}.</li>
 *   <li>A trapping target gets {@code [:EXIT from reason]} and keeps running.</li>
 *   <li>{@code :normal} is ignored, except from the target itself, which then ends.</li>
 *   <li>Any other reason ends the target with that reason.</li>
 * </ol>
 */
public final class Signals {
  private Signals() {}

  // ---- exit signals ----------------------------------------------------------

  /**
   * Deliver an exit signal {@code reason} from {@code from} to local
   * {@code target}. {@code linked}: it comes from a link (so {@code :kill} is
   * an ordinary reason), else from {@code exit/2}. Any thread.
   */
  public static void exitSignal(Tasklet target, Pid from, Object reason, boolean linked) {
    if (target.state == Tasklet.DONE) return;
    Terms terms = target.node.terms;
    if (!linked && terms.kill().equals(reason)) {
      target.signalExit(terms.killed());
    } else if (target.trapExit) {
      target.deliver(terms.exitMessage(from, reason));
    } else if (terms.normal().equals(reason)) {
      if (from.equals(target.pid)) target.signalExit(reason);
    } else {
      target.signalExit(reason);
    }
  }

  /**
   * {@code (exit pid reason)} from the calling tasklet {@code self}: to itself
   * it acts at once (throwing {@link TaskletExit} when it ends); to another,
   * local or remote, it is a switch point. Owner only.
   */
  public static void exit(Tasklet self, Pid pid, Object reason) {
    if (pid.equals(self.pid)) {
      exitSignal(self, pid, reason, false);
      self.checkExit();
      return;
    }
    Distribution d = self.node.remoteFor(pid);
    Tasklet t = d == null ? NodeTable.resolve(pid) : null;
    if (t != null) {
      exitSignal(t, self.pid, reason, false);
    } else if (d != null) {
      d.exit(self.pid, pid, reason, false);
    }
    self.node.preempt("signal", pid, reason);
  }

  // ---- the end ---------------------------------------------------------------

  /**
   * End tasklet {@code t} with {@code reason}: it stops being alive, leaves
   * the process table and the registry, its links get exit signals, its
   * watchers get :DOWN and its own monitors are removed (a crash report, if
   * any, is the caller's: see Tasklet). Idempotent. Its own strand (or
   * housekeeping, or its node's shutdown).
   */
  static void terminate(Tasklet t, Object reason) {
    Extra e;
    synchronized (t) {
      if (t.state == Tasklet.DONE) return;
      t.state = Tasklet.DONE;
      // detached: every writer of a record checks DONE under this monitor
      // first, so from here on only this thread reads it
      e = t.extra;
      t.extra = null;
    }
    leave(t, e);
    if (e == null) return;
    if (e.links != null) Links.ended(t, e.links, reason);
    if (e.monitoredBy != null) Monitors.targetEnded(t, e.monitoredBy, e.monitoredAs, reason);
    if (e.monitors != null) Monitors.watcherEnded(t, e.monitors);
    if (e.tracer != null) e.tracer.trace(t.pid, "exit", reason, null);
    if (e.limit != null && e.limit.endedBy(reason)) overflowed(t, e.limit, e.crashContext);
  }

  /**
   * The DONE tasklet {@code t} (whose detached record is {@code e}, or null)
   * leaves every table that routes to it: its aliases, timers, the process
   * table and the registry; it keeps no messages, and its own pid no longer
   * caches it, so a pid kept by anyone retains neither the tasklet nor its
   * initial function.
   */
  private static void leave(Tasklet t, Extra e) {
    Node node = t.node;
    if (e != null && e.aliases != null) Aliases.ended(t, e.aliases);
    if (e != null && e.timers != null) ProcessTimers.targetEnded(e.timers);
    node.processes.remove(t);
    if (e != null && e.registeredName != null) node.registry.ended(e.registeredName, t.pid);
    t.clear();
    t.context = null;
    t.pid.tasklet = null;
  }

  /** The crash report of a tasklet its mailbox limit killed: see CrashHandler. */
  private static void overflowed(Tasklet t, MailboxLimit limit, Object context) {
    Node node = t.node;
    Throwable cause = node.terms.error("mailbox-overflow", "tasklet " + t.pid + " had more than "
        + limit.max + " messages queued (spawn-opt :max-mailbox); it takes messages slower than they"
        + " come: apply back-pressure, or raise the limit", "limit", (long) limit.max, "pid", t.pid);
    CrashHandler.report(node, t.pid, t.initialFn(), null, cause, context);
  }

  // ---- info ------------------------------------------------------------------

  /**
   * A snapshot of {@code t} with string keys (the Clojure layer keywordises
   * them), or null when it is dead or a fatal exit signal is pending for it
   * ({@link Tasklet#isExiting}). Any thread.
   */
  public static Map<String, Object> info(Tasklet t) {
    Map<String, Object> m = new LinkedHashMap<>();
    synchronized (t) {
      if (t.isExiting()) return null;
      m.put("status", statusName(t.state));
      m.put("mailbox-size", t.size());
      m.put("links", t.ex().links == null ? List.of() : new ArrayList<>(t.ex().links));
      List<Object> mons = new ArrayList<>();
      if (t.ex().monitors != null) mons.addAll(t.ex().monitors.values());
      m.put("monitors", mons);
      m.put("monitored-by", t.ex().monitoredBy == null ? List.of() : new ArrayList<>(t.ex().monitoredBy.values()));
      m.put("trap-exit", t.trapExit);
      m.put("registered-name", t.ex().registeredName);
      m.put("initial-fn", t.initialFn());
      m.put("reductions", t.totalReductions);
      m.put("strand", t.strand().name());
      MailboxLimit lim = t.ex().limit;
      m.put("max-mailbox", lim == null ? null : lim.max);
      m.put("dropped", lim == null ? 0L : lim.dropped());
    }
    return m;
  }

  /** Set the trap-exit flag, returning the old one. Owner only. */
  public static boolean trapExit(Tasklet self, boolean on) {
    boolean old = self.trapExit;
    self.trapExit = on;
    return old;
  }

  /** The process-info status keyword name. Any thread. */
  private static String statusName(int state) {
    return switch (state) {
      case Tasklet.RUNNING -> "running";
      case Tasklet.NEW, Tasklet.RUNNABLE, Tasklet.YIELDING -> "runnable";
      case Tasklet.DONE -> "exiting";
      default -> "waiting";
    };
  }
}
