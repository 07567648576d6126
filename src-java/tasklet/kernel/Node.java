package tasklet.kernel;

import clojure.lang.IFn;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One node's runtime: its name and incarnation, process table, name registry
 * ({@link Registry}), strands, scheduler, timers and the hooks the Clojure
 * layer installs; made from {@link NodeOptions}. Usually there is one per JVM
 * ({@link #local()}); tests may make several, each live one under its own
 * name ({@link NodeTable}).
 *
 * <p>The strand is chosen once, when the node is made: system property
 * {@code tasklet.strand} = {@code continuation} | {@code virtual}, else
 * continuation when {@code jdk.internal.vm} is exported to the library, else
 * virtual threads.
 */
public final class Node {
  /** The tasklet of a plain or virtual thread (workers keep theirs in a field). */
  static final ThreadLocal<Tasklet> CURRENT = new ThreadLocal<>();

  public final String name;
  public final int incarnation;   // 0 for a node without distribution; see NodeOptions
  final Terms terms;
  final Context context;
  final Timers timers;
  final ProcessTimers userTimers;
  final int reductionBudget;
  final Strand strand;
  final Strand threadStrand = new ThreadStrand();
  final Scheduler scheduler;      // null on the virtual-thread strand
  final boolean preemptive;       // its scheduler wants switch points (Scheduler.preemptive)
  volatile boolean stopped;       // shutdown was called
  volatile boolean traced;        // some tasklet of this node has had a tracer (spawns check it)
  volatile CrashHandler crashHandler;
  volatile Distribution distribution;
  final ProcessTable processes = new ProcessTable();
  final Registry registry;
  final ConcurrentHashMap<Ref, Tasklet> aliases = new ConcurrentHashMap<>();   // see Aliases
  private final ThreadTasklets threads = new ThreadTasklets(this);
  private final AtomicLong serials = new AtomicLong();
  private final AtomicLong refs = new AtomicLong();

  /**
   * A new node, which joins the JVM's node table. Throws (:badarg) when a
   * live node of this JVM has the same name. Any thread.
   */
  public Node(NodeOptions o) {
    this.name = o.name;
    this.incarnation = o.incarnation;
    this.terms = NodeTable.terms;
    this.context = NodeTable.context;
    NodeTable.checkFree(name, terms);   // before any thread starts
    this.timers = o.timers != null ? o.timers : new SystemTimers();
    this.userTimers = new ProcessTimers(this, timers);
    // a tasklet counts its slice in a short (a field fewer bytes per tasklet): the budget fits one
    this.reductionBudget = Math.max(1, Math.min(Short.MAX_VALUE - 1, o.reductionBudget));
    this.crashHandler = o.crashHandler;
    this.registry = o.shareRegistryWith != null ? o.shareRegistryWith.registry : new Registry(terms);
    String kind = Strand.kind(o.strand);
    if (kind.equals("continuation")) {
      CompilerHints.install();
      this.scheduler = o.scheduler != null ? o.scheduler
          : new WorkerPool(o.parallelism, o.maxWorkers, o.idleSpinMicros * 1000, threads::housekeeping);
      this.strand = new ContinuationStrand(scheduler);
      this.preemptive = scheduler.preemptive();
    } else {
      this.preemptive = false;
      this.scheduler = null;
      this.strand = new VirtualThreadStrand();
    }
    try {
      NodeTable.add(this);
    } catch (RuntimeException e) {   // lost a race for the name: stop what was made for it
      if (o.scheduler == null && scheduler != null) scheduler.shutdown();
      if (o.timers == null) ((SystemTimers) timers).shutdown();
      throw e;
    }
    if (scheduler == null) threads.startHousekeeper();
  }

  /** Install the Clojure layer's terms and context for nodes made from now on. Any thread. */
  public static void install(Terms terms, Context context) { NodeTable.install(terms, context); }

  /** This JVM's default node, made on first use (see {@link NodeTable}). Any thread. */
  public static Node local() { return NodeTable.local(); }

  /** Replace the default node (distribution gives it a name). Any thread. */
  public static void setLocal(Node n) { NodeTable.setLocal(n); }

  /**
   * The node of the calling tasklet; for a plain thread (whose pid may date
   * from before distribution replaced the default node), the default node.
   * Any thread.
   */
  public static Node current() {
    Tasklet t = currentTasklet();
    return t != null && !t.isThreadTasklet() ? t.node : local();
  }

  /** The tasklet running on this thread, or null. Any thread. */
  public static Tasklet currentTasklet() {
    if (Thread.currentThread() instanceof Worker w) {
      Tasklet t = w.slots.current;
      if (t != null) return t;
    }
    return CURRENT.get();
  }

  // ---- processes -------------------------------------------------------------

  /**
   * Spawn a tasklet running {@code fn} with dynamic context {@code ctx}; when
   * {@code linkTo} is given, link it atomically; when {@code monitorRef} is
   * given, {@code linkTo}'s sibling {@code watcher} monitors it atomically.
   * On a node that was shut down the tasklet ends at once with :noconnection.
   * Any thread.
   */
  public Pid spawn(IFn fn, Object initialFn, Object ctx, Tasklet linkTo, Tasklet watcher, Ref monitorRef) {
    return spawn(fn, initialFn, ctx, linkTo, watcher, monitorRef, 0, false);
  }

  /**
   * As {@link #spawn(IFn, Object, Object, Tasklet, Tasklet, Ref)}, with a
   * mailbox limit of {@code maxMailbox} messages (0: none) and its policy
   * (see {@link MailboxLimit}). Any thread.
   */
  public Pid spawn(IFn fn, Object initialFn, Object ctx, Tasklet linkTo, Tasklet watcher, Ref monitorRef,
                   int maxMailbox, boolean dropNewest) {
    Tasklet t = new Tasklet(this, serials.incrementAndGet(), strand, fn, initialFn, ctx);
    if (maxMailbox > 0) MailboxLimit.install(t, maxMailbox, dropNewest);
    processes.add(t);
    if (linkTo != null) Links.linkUnstarted(linkTo, t);
    if (watcher != null) Monitors.monitorUnstarted(watcher, t, monitorRef);
    if (traced) traceSpawn(t, linkTo);
    if (stopped) {   // as on a node that is gone: the link and the monitor see :noconnection
      Signals.terminate(t, terms.noconnection());
      return t.pid;
    }
    strand.start(t);
    if (preemptive) preempt(null, null, null);
    return t.pid;
  }

  private void traceSpawn(Tasklet child, Tasklet linkTo) {
    Tasklet parent = currentTasklet();
    Tracer tr = parent == null ? null : parent.tracer();
    if (tr == null) return;
    tr.trace(parent.pid, "spawn", child.pid, child.initialFn());
    if (linkTo == parent) tr.trace(parent.pid, "link", child.pid, null);
  }

  /**
   * Deterministic mode only: a point where the scheduler may switch to another
   * tasklet (after a registry operation, a spawn, a link or monitor change, an
   * exit signal or an alive? check, so check-then-act races can interleave),
   * traced as {@code what} with a and b unless {@code what} is null. Nothing
   * on other nodes. Calling tasklet only.
   */
  public void preempt(String what, Object a, Object b) {
    if (!preemptive) return;
    Tasklet me = currentTasklet();
    if (me != null && me.node == this && !me.isThreadTasklet() && me.state == Tasklet.RUNNING) {
      Tracer tr = what == null ? null : me.tracer();
      if (tr != null) tr.trace(me.pid, what, a, b);   // "whereis", "register", "unregister"
      strand.yieldSlice(me);
    }
  }

  /** The calling tasklet, adopting a plain thread into this node if needed. Any thread. */
  public Tasklet self() {
    Tasklet t = currentTasklet();
    if (t != null && t.state != Tasklet.DONE) return t;
    return threads.adopt(serials.incrementAndGet());
  }

  /**
   * Detach the calling plain thread from its thread tasklet if nothing could
   * tell the difference; see {@link ThreadTasklets#forget}. The calling thread only.
   */
  public static boolean forgetThread() { return ThreadTasklets.forget(); }

  /** A fresh unique reference. Any thread. */
  public Ref makeRef() { return new Ref(name, refs.incrementAndGet(), incarnation); }

  /**
   * The distribution through which this node reaches the pids, refs and
   * names of node {@code node} (incarnation {@code inc}), or null when it
   * reaches them directly. One rule, whether that node lives in this JVM or
   * not: another node is reached through distribution when this node is
   * distributed. A node of this JVM without distribution (the default node
   * before tasklet.node/start!, or after stop!) has no wire, so it and the
   * nodes of this JVM reach each other's tasklets directly. Any thread.
   */
  public Distribution remoteFor(String node, long inc) {
    Distribution d = distribution;
    if (d == null || (inc == incarnation && node.equals(name))) return null;
    Node n = NodeTable.named(node);
    return n != null && n.incarnation == inc && n.distribution == null ? null : d;
  }

  /**
   * {@link #remoteFor(String, long)} of {@code pid}'s node; a pid made in
   * this JVM knows its node (which may have given up its name, see
   * NodeTable#release). Any thread.
   */
  public Distribution remoteFor(Pid pid) {
    Tasklet t = pid.tasklet;
    if (t != null && (t.node == this || t.node.distribution == null)) return null;
    return remoteFor(pid.node, pid.incarnation);
  }

  /**
   * The live tasklet of {@code pid} that the calling node reaches directly
   * (see {@link #remoteFor}), or null when pid is dead, unknown or reached
   * through distribution. Any thread.
   */
  public static Tasklet reach(Pid pid) {
    return current().remoteFor(pid) == null ? NodeTable.resolve(pid) : null;
  }

  /** The node a send by {@code me} (null: a thread without a tasklet) goes out from. */
  private static Node here(Tasklet me) {
    return me != null && !me.isThreadTasklet() ? me.node : local();
  }

  // ---- messages --------------------------------------------------------------

  /** Send {@code msg} to {@code to}: local at once, remote through distribution. Any thread. */
  public static void send(Pid to, Object msg) {
    Tasklet me = currentTasklet();
    Tasklet t = to.tasklet;
    if (t == null || me == null || t.node != me.node) {   // else the same node: direct
      Distribution d = here(me).remoteFor(to);
      t = d == null ? NodeTable.resolve(to) : null;
      if (t == null) {
        if (d != null) d.send(to, msg);
        Tracer tr = me == null ? null : me.tracer();
        if (tr != null) tr.trace(me.pid, "send", msg, to);
        return;  // a dead or unknown local pid: dropped, as in Erlang
      }
    }
    if (me != null && me.state == Tasklet.DONE) me = null;  // sends made while ending (links, :DOWN)
    if (me != null) {
      // a send is a point where an exit signal takes effect: checkExit, written
      // out because CompilerHints keeps that method out of line everywhere (for
      // the frames of waiting tasklets), and a send parks no frame of its own
      Object exit = me.pendingExit;
      if (exit != null) me.exitNow(exit);
      if (me.extra != null) {
        Tracer tr = me.tracer();
        if (tr != null) tr.trace(me.pid, "send", msg, to);
      }
    }
    t.deliver(msg);
    if (me != null) me.reduceSend(t);
  }

  /**
   * Put {@code msg} in local {@code to}'s mailbox and wake it, without the
   * sender's bookkeeping (no trace event, no reduction, no exit check): for
   * tracers delivering trace messages. Drops it when {@code to} is dead or not
   * local. Any thread.
   */
  public static void deliver(Pid to, Object msg) {
    Tasklet t = NodeTable.resolve(to);
    if (t != null) t.deliver(msg);
  }

  /**
   * Whether {@code pid} is alive, as {@code alive?} reports it: a tasklet the
   * calling node reaches directly (see {@link #remoteFor}) that has not ended and has no fatal exit signal pending
   * ({@link Tasklet#isExiting}, so it is ordered after the caller's own
   * signals); a pid of another node is asked through distribution (false
   * without). A switch point. Any thread.
   */
  public static boolean isAlive(Pid pid) {
    Distribution d = current().remoteFor(pid);
    Tasklet t = d == null ? NodeTable.resolve(pid) : null;
    boolean alive;
    if (t != null) {
      alive = !t.isExiting();
    } else {
      alive = d != null && d.alive(pid);
    }
    Tasklet me = currentTasklet();
    if (me != null) me.node.preempt("alive?", pid, alive);
    return alive;
  }

  /** Send to a name registered on this node; throws :noproc when nobody has it. Any thread. */
  public void sendNamed(Object regName, Object msg) {
    Pid p = registry.whereis(regName);
    if (p == null) {
      throw terms.error("noproc", "no tasklet is registered as " + regName
          + "; check the name, or (whereis name) before sending", "name", regName);
    }
    send(p, msg);
  }

  /** Send to a name on another node (or this one). Any thread. */
  public void sendNamed(Object regName, String nodeName, Object msg) {
    if (nodeName.equals(name)) {
      sendNamed(regName, msg);
      return;
    }
    Node n = NodeTable.named(nodeName);
    Distribution d = n == null ? distribution : remoteFor(nodeName, n.incarnation);
    if (d != null) d.sendNamed(regName, nodeName, msg);
    else if (n != null) n.sendNamed(regName, msg);   // no wire between them (see remoteFor)
    else throw terms.error("not-connected", "node " + nodeName + " is not connected; start distribution"
        + " with tasklet.node/start! and connect! to it first", "node", nodeName);
  }

  // ---- registry (see Registry; each operation is a switch point) ------------

  /** Register {@code pid} as {@code regName}. Throws :badarg when taken, named, or dead. Any thread. */
  public void register(Object regName, Pid pid) {
    registry.register(this, regName, pid);
    if (preemptive) preempt("register", regName, pid);
  }

  /** Remove a name. Throws :badarg when nobody has it. Any thread. */
  public void unregister(Object regName) {
    Pid p = registry.unregister(regName);
    if (preemptive) preempt("unregister", regName, p);
  }

  /** The pid registered as {@code regName}, or null. Any thread. */
  public Pid whereis(Object regName) {
    Pid p = registry.whereis(regName);
    if (preemptive) preempt("whereis", regName, p);
    return p;
  }

  /** All registered names. Any thread. */
  public List<Object> registered() { return registry.registered(); }

  /** Pids of all live tasklets of this node. Any thread. */
  public List<Pid> processes() {
    List<Pid> out = new ArrayList<>();
    processes.forEach(t -> { if (t.state != Tasklet.DONE) out.add(t.pid); });
    return out;
  }

  /** Number of live tasklets. Any thread. */
  public int processCount() { return processes.size(); }

  /** The scheduler ({@code null} on the virtual-thread strand). Any thread. */
  public Scheduler scheduler() { return scheduler; }

  /** The scheduler's counters ({@code null} on the virtual-thread strand). Any thread. */
  public SchedulerStats schedulerStats() { return scheduler == null ? null : scheduler.stats(); }

  /** "continuation" or "virtual". */
  public String strandName() { return strand.name(); }

  /** Install or remove (null) the distribution layer. Any thread. */
  public void setDistribution(Distribution d) { distribution = d; }

  /** The distribution layer, or null. Any thread. */
  public Distribution distribution() { return distribution; }

  /** Give this node its own crash handler, or with null use the JVM's again. Any thread. */
  public void setCrashHandler(CrashHandler h) { crashHandler = h; }

  /** The crash handler in effect: this node's own, else the JVM's. Any thread. */
  public CrashHandler crashHandler() {
    CrashHandler h = crashHandler;
    return h != null ? h : NodeTable.crashHandler;
  }

  /** Replace the JVM's crash handler (see {@link NodeTable#setCrashHandler}); returns the old one. Any thread. */
  public static CrashHandler setDefaultCrashHandler(CrashHandler h) { return NodeTable.setCrashHandler(h); }

  /** The terms in use. */
  public Terms terms() { return terms; }

  /** The timers in use. */
  public Timers timers() { return timers; }

  /** The user timers (send-after, exit-after, send-interval) of this node. */
  public ProcessTimers userTimers() { return userTimers; }

  /** End a tasklet; see {@link Signals#terminate}. Its own strand. */
  void terminate(Tasklet t, Object reason) {
    Signals.terminate(t, reason);
    WorkerPool.homedEnded(t);
    if (t.isThreadTasklet()) threads.ended(t);
  }

  /**
   * Stop this node, as a node that goes down: it leaves the JVM's node table,
   * every tasklet of it ends with :noconnection (so its links and watchers
   * on other nodes of this JVM see what losing a node shows over a socket,
   * and its pids are no longer alive), then its scheduler and timers stop.
   * A tasklet ends on its own strand at its next suspension point (an exit
   * signal, as {@code :kill}: it cannot be trapped); one that has not within
   * a second (a loop that never reaches one), or that no scheduler runs any
   * more, is ended here. Any thread.
   */
  public void shutdown() {
    stopped = true;
    NodeTable.remove(this);
    Object reason = terms.noconnection();
    if (scheduler != null && scheduler.preemptive()) {
      scheduler.shutdown();   // a test scheduler's driver has returned: nothing runs its tasklets
    } else {
      long deadline = System.nanoTime() + 1_000_000_000L;
      for (int round = 0; round < 5 && signalAll(reason, deadline); round++) { }
    }
    if (scheduler != null) scheduler.shutdown();
    if (timers instanceof SystemTimers st) st.shutdown();
    Tasklet me = currentTasklet();
    processes.forEach(t -> {
      if (t == me) return;   // it ends itself: its exit signal is pending
      Signals.terminate(t, reason);
      if (t.isThreadTasklet()) threads.ended(t);
    });
  }

  /**
   * Send every live tasklet an exit signal and wait (until {@code deadline})
   * for them to end; true when some new tasklet was found (one spawned
   * meanwhile, say a supervisor's restart, needs another round).
   */
  private boolean signalAll(Object reason, long deadline) {
    List<Tasklet> all = new ArrayList<>();
    Tasklet me = currentTasklet();
    processes.forEach(t -> { if (t != me && !t.isExiting()) all.add(t); });
    for (Tasklet t : all) t.signalExit(reason);
    for (Tasklet t : all) {
      while (t.state != Tasklet.DONE && !t.isThreadTasklet() && System.nanoTime() < deadline) {
        java.util.concurrent.locks.LockSupport.parkNanos(200_000);
      }
    }
    return !all.isEmpty();
  }

  @Override public String toString() { return "node " + name + " (" + strand.name() + ")"; }
}
