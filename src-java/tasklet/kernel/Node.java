package tasklet.kernel;

import clojure.lang.IFn;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One node's runtime: its name and incarnation, process table, name registry,
 * strands, scheduler, timers and the hooks the Clojure layer installs. Usually
 * there is one per JVM ({@link #local()}); tests may make several.
 *
 * <p>The strand is chosen once, when the node is made: system property
 * {@code tasklet.strand} = {@code continuation} | {@code virtual}, else
 * continuation when {@code jdk.internal.vm} is exported to the library, else
 * virtual threads.
 */
public final class Node {
  /** The tasklet of a plain or virtual thread (workers keep theirs in a field). */
  static final ThreadLocal<Tasklet> CURRENT = new ThreadLocal<>();
  private static final Map<String, Node> LIVE = new ConcurrentHashMap<>();
  private static volatile Node local;
  private static volatile Terms defaultTerms = Terms.PLAIN;
  private static volatile Context defaultContext = Context.NONE;
  private static volatile CrashHandler defaultCrashHandler = CrashHandler.LOG;

  /** Settings for a new node. */
  public static final class Config {
    public String name = "nonode";
    public long incarnation = 0;
    public String strand = System.getProperty("tasklet.strand", "");
    public int parallelism = Integer.getInteger("tasklet.workers", Runtime.getRuntime().availableProcessors());
    public int maxWorkers = Integer.getInteger("tasklet.max-workers", 256);
    public int reductionBudget = Integer.getInteger("tasklet.reductions", 2000);
    /** How long an idle worker polls for work before it parks (see WorkerPool, Parking). */
    public long idleSpinMicros = Long.getLong("tasklet.idle-spin-us", 100L);
    public Timers timers;          // default: a SystemTimers
    public Scheduler scheduler;    // default: a WorkerPool (continuation strand only)
    /** This node's own crash handler; null (the default): the JVM's (see setDefaultCrashHandler). */
    public CrashHandler crashHandler;
    /**
     * A node whose name registry the new node shares (null: its own): the
     * node that distribution replaces as the default keeps its tasklets, and
     * the names they registered stay visible from the new default node.
     */
    public Node shareRegistryWith;
  }

  public final String name;
  public final long incarnation;
  final Terms terms;
  final Context context;
  final Timers timers;
  final ProcessTimers userTimers;
  final int reductionBudget;
  final Strand strand;
  final Strand threadStrand = new ThreadStrand();
  final Scheduler scheduler;      // null on the virtual-thread strand
  final boolean preemptive;       // a DeterministicScheduler: registry ops and spawns are switch points
  volatile boolean traced;        // some tasklet of this node has had a tracer (spawns check it)
  volatile CrashHandler crashHandler;
  volatile Distribution distribution;
  final ProcessTable processes = new ProcessTable();
  final ConcurrentHashMap<Object, Pid> registry;
  final ConcurrentHashMap<Ref, Tasklet> aliases = new ConcurrentHashMap<>();   // see Aliases
  private final Set<Tasklet> threadTasklets = ConcurrentHashMap.newKeySet();
  private final AtomicLong serials = new AtomicLong();
  private final AtomicLong refs = new AtomicLong();

  /** A new node. Any thread. */
  public Node(Config c) {
    this.name = c.name;
    this.incarnation = c.incarnation;
    this.terms = defaultTerms;
    this.context = defaultContext;
    this.timers = c.timers != null ? c.timers : new SystemTimers();
    this.userTimers = new ProcessTimers(this, timers);
    this.reductionBudget = Math.max(1, c.reductionBudget);
    this.crashHandler = c.crashHandler;
    this.registry = c.shareRegistryWith != null ? c.shareRegistryWith.registry : new ConcurrentHashMap<>();
    String kind = strandKind(c.strand);
    if (kind.equals("continuation")) {
      CompilerHints.install();
      this.scheduler = c.scheduler != null ? c.scheduler
          : new WorkerPool(c.parallelism, c.maxWorkers, c.idleSpinMicros * 1000, this::housekeeping);
      this.strand = new ContinuationStrand(scheduler);
      this.preemptive = scheduler instanceof DeterministicScheduler;
    } else {
      this.preemptive = false;
      this.scheduler = null;
      this.strand = new VirtualThreadStrand();
      startHousekeeper();
    }
    LIVE.put(name, this);
  }

  /**
   * The strand a node made now gets: {@code requested} when possible,
   * continuation when jdk.internal.vm is exported, else virtual. Throws on a
   * requested value that is neither "continuation" nor "virtual".
   */
  public static String strandKind(String requested) {
    if ("virtual".equals(requested)) return "virtual";
    if (requested != null && !requested.isEmpty() && !"continuation".equals(requested)) {
      throw new IllegalArgumentException("tasklet.strand is \"" + requested
          + "\"; use \"continuation\" or \"virtual\" (or leave it unset)");
    }
    return Strand.continuationsAvailable() ? "continuation" : "virtual";
  }

  /** Install the Clojure layer's terms and context for nodes made from now on. Any thread. */
  public static synchronized void install(Terms terms, Context context) {
    defaultTerms = terms;
    defaultContext = context;
  }

  /** This JVM's default node, made on first use. Any thread. */
  public static Node local() {
    Node n = local;
    if (n == null) {
      synchronized (Node.class) {
        n = local;
        if (n == null) local = n = new Node(new Config());
      }
    }
    return n;
  }

  /** Replace the default node (distribution gives it a name). Any thread. */
  public static synchronized void setLocal(Node n) { local = n; }

  /**
   * The node of the calling tasklet; for a plain thread (whose pid may date
   * from before distribution replaced the default node), the default node.
   * Any thread.
   */
  public static Node current() {
    Tasklet t = currentTasklet();
    return t != null && t.strand != t.node.threadStrand ? t.node : local();
  }

  /** The local node called {@code name}, or null. Any thread. */
  public static Node named(String name) { return LIVE.get(name); }

  /** The tasklet running on this thread, or null. Any thread. */
  public static Tasklet currentTasklet() {
    if (Thread.currentThread() instanceof Worker w) {
      Tasklet t = w.current;
      if (t != null) return t;
    }
    return CURRENT.get();
  }

  // ---- processes -------------------------------------------------------------

  /**
   * Spawn a tasklet running {@code fn} with dynamic context {@code ctx}; when
   * {@code linkTo} is given, link it atomically; when {@code monitorRef} is
   * given, {@code linkTo}'s sibling {@code watcher} monitors it atomically.
   * Any thread.
   */
  public Pid spawn(IFn fn, Object initialFn, Object ctx, Tasklet linkTo, Tasklet watcher, Ref monitorRef) {
    return spawn(fn, initialFn, ctx, linkTo, watcher, monitorRef, 0, false);
  }

  /**
   * As {@link #spawn(IFn, Object, Object, Tasklet, Tasklet, Ref)}, with a
   * mailbox limit of {@code maxMailbox} messages (0: none) and its policy
   * (see {@link Tasklet#limitMailbox}). Any thread.
   */
  public Pid spawn(IFn fn, Object initialFn, Object ctx, Tasklet linkTo, Tasklet watcher, Ref monitorRef,
                   int maxMailbox, boolean dropNewest) {
    Tasklet t = new Tasklet(this, serials.incrementAndGet(), strand, fn, initialFn, ctx);
    if (maxMailbox > 0) t.limitMailbox(maxMailbox, dropNewest);
    processes.add(t);
    if (linkTo != null) Signals.linkUnstarted(linkTo, t);
    if (watcher != null) Signals.monitorUnstarted(watcher, t, monitorRef);
    if (traced) traceSpawn(t, linkTo);
    strand.start(t);
    if (preemptive) preempt(null, null, null);
    return t.pid;
  }

  private void traceSpawn(Tasklet child, Tasklet linkTo) {
    Tasklet parent = currentTasklet();
    Tracer tr = parent == null ? null : parent.tracer();
    if (tr == null) return;
    tr.trace(parent.pid, "spawn", child.pid, child.initialFn);
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
    if (me != null && me.node == this && me.strand == strand && me.state == Tasklet.RUNNING) {
      Tracer tr = what == null ? null : me.tracer();
      if (tr != null) tr.trace(me.pid, what, a, b);   // "whereis", "register", "unregister"
      strand.yieldSlice(me);
    }
  }

  /** The calling tasklet, adopting a plain thread into this node if needed. Any thread. */
  public Tasklet self() {
    Tasklet t = currentTasklet();
    if (t != null && t.state != Tasklet.DONE) return t;
    t = new Tasklet(this, serials.incrementAndGet(), threadStrand, null,
        "thread " + Thread.currentThread().getName(), null);
    threadStrand.start(t);
    processes.add(t);
    threadTasklets.add(t);
    CURRENT.set(t);
    return t;
  }

  // ---- hook for tasklet.node (distribution) ---------------------------------

  /**
   * Detach the calling plain thread from its thread tasklet if nothing could
   * tell the difference: it has no links, no monitors either way, no
   * registered name, no tracer, does not trap exits and has no messages. Then
   * that tasklet ends (:normal, signalling nobody) and the thread's next
   * {@code self} adopts a fresh pid on the then-default node; returns true.
   * Otherwise the thread keeps its pid and everything tied to it (a
   * supervisor it started with start-link, say) and this returns false. Used
   * by {@code tasklet.node/start!} so the REPL thread gets a pid of the named
   * node when that loses nothing. True for a thread with no live tasklet;
   * false for a tasklet on a continuation or virtual strand. The calling
   * thread only.
   */
  public static boolean forgetThread() {
    Tasklet t = CURRENT.get();
    if (t == null || t.state == Tasklet.DONE) return true;
    if (t.strand != t.node.threadStrand) return false;
    synchronized (t) {
      // held across the end, so no link or monitor can be made in between;
      // an idle tasklet's end takes no other lock (it has nobody to signal)
      Tasklet.Extra e = t.ex();
      if (e.links != null && !e.links.isEmpty()
          || e.monitors != null && !e.monitors.isEmpty()
          || e.monitoredBy != null && !e.monitoredBy.isEmpty()
          || e.registeredName != null || e.tracer != null || t.trapExit || t.size() > 0) {
        return false;
      }
      t.node.terminate(t, t.node.terms.normal());  // also clears CURRENT
    }
    return true;
  }

  /** A fresh unique reference. Any thread. */
  public Ref makeRef() { return new Ref(name, refs.incrementAndGet(), incarnation); }

  /** The live local tasklet of {@code pid}, or null. Any thread. */
  public static Tasklet resolve(Pid pid) {
    Tasklet t = pid.tasklet;
    if (t != null) return t;
    Node n = LIVE.get(pid.node);
    if (n == null || n.incarnation != pid.incarnation) return null;
    t = n.processes.get(pid.serial);
    if (t != null) pid.tasklet = t;
    return t;
  }

  /** Whether {@code pid} names a tasklet of a node in this JVM (dead or alive). Any thread. */
  public static boolean isLocal(Pid pid) {
    if (pid.tasklet != null) return true;
    Node n = LIVE.get(pid.node);
    return n != null && n.incarnation == pid.incarnation;
  }

  // ---- messages --------------------------------------------------------------

  /** Send {@code msg} to {@code to}: local at once, remote through distribution. Any thread. */
  public static void send(Pid to, Object msg) {
    Tasklet t = to.tasklet;
    if (t == null && (t = resolve(to)) == null) {
      if (!isLocal(to)) {
        Distribution d = current().distribution;
        if (d != null) d.send(to, msg);
      }
      Tasklet me = currentTasklet();
      Tracer tr = me == null ? null : me.tracer();
      if (tr != null) tr.trace(me.pid, "send", msg, to);
      return;  // a dead or unknown local pid: dropped, as in Erlang
    }
    Tasklet me = currentTasklet();
    if (me != null && me.state == Tasklet.DONE) me = null;  // sends made while ending (links, :DOWN)
    if (me != null) {
      me.checkExit();   // a send is a point where an exit signal takes effect
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
    Tasklet t = resolve(to);
    if (t != null) t.deliver(msg);
  }

  /** Send to a name registered on this node; throws :noproc when nobody has it. Any thread. */
  public void sendNamed(Object regName, Object msg) {
    Pid p = registry.get(regName);
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
    Node n = LIVE.get(nodeName);
    Distribution d = distribution;
    if (d != null) d.sendNamed(regName, nodeName, msg);
    else if (n != null) n.sendNamed(regName, msg);
    else throw terms.error("not-connected", "node " + nodeName + " is not connected; start distribution"
        + " with tasklet.node/start! and connect! to it first", "node", nodeName);
  }

  // ---- registry --------------------------------------------------------------

  /** Register {@code pid} as {@code regName}. Throws :badarg when taken, named, or dead. Any thread. */
  public void register(Object regName, Pid pid) {
    Tasklet t = resolve(pid);
    if (t == null || t.node.registry != registry) {
      throw terms.error("badarg", "cannot register " + regName + ": " + pid
          + " is not a live tasklet of this node", "name", regName, "pid", pid);
    }
    synchronized (t) {
      if (t.state == Tasklet.DONE) {
        throw terms.error("badarg", "cannot register " + regName + ": " + pid + " is dead",
            "name", regName, "pid", pid);
      }
      if (t.ex().registeredName != null) {
        throw terms.error("badarg", "cannot register " + regName + ": " + pid + " is already registered as "
            + t.ex().registeredName + "; unregister it first", "name", regName, "pid", pid);
      }
      Pid other = registry.putIfAbsent(regName, pid);
      if (other != null) {
        throw terms.error("badarg", "cannot register " + regName + ": the name is taken by " + other
            + "; unregister it first or pick another name", "name", regName, "pid", pid);
      }
      t.extra().registeredName = regName;
    }
    if (preemptive) preempt("register", regName, pid);
  }

  /** Remove a name. Throws :badarg when nobody has it. Any thread. */
  public void unregister(Object regName) {
    Pid p = registry.remove(regName);
    if (p == null) {
      throw terms.error("badarg", "cannot unregister " + regName + ": no tasklet has that name", "name", regName);
    }
    Tasklet t = resolve(p);
    if (t != null) synchronized (t) { if (regName.equals(t.ex().registeredName)) t.extra().registeredName = null; }
    if (preemptive) preempt("unregister", regName, p);
  }

  /** The pid registered as {@code regName}, or null. Any thread. */
  public Pid whereis(Object regName) {
    Pid p = registry.get(regName);
    if (preemptive) preempt("whereis", regName, p);
    return p;
  }

  /** All registered names. Any thread. */
  public List<Object> registered() { return new ArrayList<>(registry.keySet()); }

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
    return h != null ? h : defaultCrashHandler;
  }

  /**
   * Replace the JVM's crash handler, which every node without its own uses
   * (nodes made later too); returns the old one. Any thread.
   */
  public static CrashHandler setDefaultCrashHandler(CrashHandler h) {
    CrashHandler old = defaultCrashHandler;
    defaultCrashHandler = h != null ? h : CrashHandler.LOG;
    return old;
  }

  /** The JVM's crash handler. Any thread. */
  public static CrashHandler defaultCrashHandler() { return defaultCrashHandler; }

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
    if (t.strand == threadStrand) {
      threadTasklets.remove(t);
      if (CURRENT.get() == t) CURRENT.remove();
    }
  }

  /** Without a WorkerPool (virtual strand) no watchdog runs housekeeping: a daemon does. */
  private void startHousekeeper() {
    Thread h = new Thread(() -> {
      while (LIVE.get(name) == this) {
        try {
          Thread.sleep(100);
          housekeeping();
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "tasklet-housekeeper-" + name);
    h.setDaemon(true);
    h.start();
  }

  /** Ends thread tasklets whose thread is gone. Watchdog thread. */
  private void housekeeping() {
    for (Tasklet t : threadTasklets) {
      if (t.carrier instanceof Thread th && !th.isAlive()) {
        threadTasklets.remove(t);
        Signals.terminate(t, terms.normal());
      }
    }
  }

  /** Stop this node's scheduler and timers; it leaves the JVM's node table. Any thread. */
  public void shutdown() {
    LIVE.remove(name, this);
    if (scheduler != null) scheduler.shutdown();
    if (timers instanceof SystemTimers st) st.shutdown();
  }

  @Override public String toString() { return "node " + name + " (" + strand.name() + ")"; }
}
