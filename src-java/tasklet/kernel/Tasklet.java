package tasklet.kernel;

import clojure.lang.IFn;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * A process record: pid, mailbox, run state, links, monitors, trap-exit flag and
 * registered name, plus the strand that suspends and resumes it. It is also the
 * Runnable its strand runs: {@link #run()} is the tasklet's whole life.
 *
 * <p>It is its own {@link Mailbox} (by extension rather than a field) because a
 * million waiting tasklets pay for every object header and reference: as one
 * object, the record and an empty mailbox cost about 100 bytes instead of 136.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Waiting is a park/wake protocol on two words, after the JDK's VirtualThread:
 *
 *   state   NEW, RUNNABLE, RUNNING, PARKING, PARKED, YIELDING, BLOCKED, DONE
 *   permit  0/1: a wake-up arrived that the tasklet has not looked at yet
 *
 * wake() (any thread, after putting a message or a signal):
 *   if state is PARKED and cas(state, PARKED, RUNNABLE) wins: the strand resumes
 *     it (no permit: a resumed receive looks again anyway; the cas is the fence
 *     that publishes the message)
 *   else (the caller's full-fence atomic, e.g. Mailbox.put's counter add,
 *   orders the message before the permit):
 *   if permit is 1: nothing (the tasklet will look again before it parks)
 *   if xchg(permit, 1) was 0:  PARKED  -> cas to RUNNABLE, then the strand resumes it
 *                              BLOCKED -> unpark the blocked thread
 *                              other   -> nothing: the tasklet will look again
 * park, in receive (the tasklet itself, after a scan found nothing):
 *   if permit is 1 and xchg(permit, 0) was 1: return (look again)
 *   else the strand suspends: a continuation sets PARKING and yields; its
 *   worker then stores PARKED and re-reads permit, resuming it itself if a
 *   wake-up slipped in (the two sides form a Dekker pair on volatile state and
 *   permit, so at least one of them sees the other). A strand that cannot yield
 *   (a plain thread, a virtual thread, a pinned continuation) sets BLOCKED and
 *   parks its thread until permit is 1.
 * So a hop to a parked receiver costs one cas on the waker's side and no
 * atomic at all on the receiver's (doc/adr/0008); a permit is set only for
 * a tasklet that is busy, and taken by its next receive that finds nothing.
 *
 * Links, monitors and the DONE transition are guarded by this object's monitor,
 * held only for bookkeeping, never across a suspension or a call out. What most
 * tasklets never use (link and monitor tables, a name) is allocated lazily.
 * </pre>
 */
public final class Tasklet extends Mailbox implements Runnable {
  static final int NEW = 0, RUNNABLE = 1, RUNNING = 2, PARKING = 3, PARKED = 4,
      YIELDING = 5, BLOCKED = 6, DONE = 7;

  private static final VarHandle STATE, PERMIT, PENDING_EXIT;
  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(Tasklet.class, "state", int.class);
      PERMIT = l.findVarHandle(Tasklet.class, "permit", int.class);
      PENDING_EXIT = l.findVarHandle(Tasklet.class, "pendingExit", Object.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final Node node;
  final Pid pid;
  // Which of its node's two strands runs it: a plain thread's tasklet (see
  // ThreadTasklets) or a spawned one. A flag rather than the strand itself: one
  // reference less per waiting tasklet (doc/adr/0011); see strand().
  private final boolean threadTasklet;
  // The initial function (process-info, crash reports; see initialFn()). Until
  // the body starts it is a Start when the body differs from it (spawn with
  // arguments wraps the function in a closure): one field for both, since a
  // million waiting tasklets pay for each (doc/adr/0011). Racy reads from
  // other threads see either form; both give the same initial function.
  private Object initial;
  Object carrier;                  // strand-specific: a Continuation or a Thread; its home worker: see home()
  Object context;                  // dynamic bindings: conveyed at spawn, saved at each suspension; dropped at the end
  volatile int state;
  volatile int permit;
  volatile Object pendingExit;     // an exit signal to act on at the next suspension point
  volatile boolean trapExit;
  short reductions;                // messages handled in this time slice (owner only); the budget is at most Short.MAX_VALUE - 1
  long totalReductions;            // messages handled in all (owner writes; others read racily)
  Extra extra;                     // what most tasklets never need (see Extra); lazily allocated, guarded by this

  /** A body that is not the initial function itself, until it starts. */
  private record Start(IFn body, Object initialFn) {}

  /** The extra record, made on first use. Caller holds this. */
  Extra extra() { return extra != null ? extra : (extra = new Extra()); }

  /** The extra record or a read-only empty one. Caller holds this. */
  Extra ex() { return extra == null ? Extra.NONE : extra; }

  Tasklet(Node node, long serial, Strand strand, IFn fn, Object initialFn, Object context) {
    this.node = node;
    this.pid = new Pid(node.name, serial, node.incarnation, this);
    this.threadTasklet = strand == node.threadStrand;
    assert threadTasklet || strand == node.strand;
    this.initial = fn == null || fn == initialFn ? initialFn : new Start(fn, initialFn);
    this.context = context;
  }

  /** The strand that suspends and resumes it: its node's, or the thread strand for a plain thread's. Any thread. */
  Strand strand() { return threadTasklet ? node.threadStrand : node.strand; }

  /** Whether it is a plain thread's tasklet (ThreadTasklets). Any thread. */
  boolean isThreadTasklet() { return threadTasklet; }

  /**
   * Continuation strand: the worker it first ran on, and always resumes on;
   * null before that, after it ended, and on the other strands. It lives in
   * the continuation object, whose own fields leave room for it (one
   * reference less per waiting tasklet, doc/adr/0011). Set once by that
   * worker before the first run; read by wakers, who see it through the
   * state transition that made the tasklet runnable again. No instanceof on
   * the continuation class here: without the jdk.internal.vm export that class
   * must never load (the other strands' carrier is a Thread). Any thread.
   */
  Worker home() {
    Object c = carrier;
    return c == null || c instanceof Thread ? null : ContinuationStrand.homeOf(c);
  }

  /** The function it was spawned with (for a plain thread's tasklet, a description). Any thread. */
  Object initialFn() {
    Object i = initial;
    return i instanceof Start s ? s.initialFn() : i;
  }

  /** This tasklet's tracer, or null. The untraced fast path is the null check on extra. Any thread. */
  public Tracer tracer() {
    Extra e = extra;
    return e == null ? null : e.tracer;
  }

  /**
   * Install (or with null remove) this tasklet's tracer; it sees events from
   * the tasklet's next send, receive, spawn, link or end on. Returns false when
   * the tasklet is dead. Any thread.
   */
  public boolean setTracer(Tracer tr) {
    synchronized (this) {
      if (state == DONE) return false;
      if (tr == null && extra == null) return true;
      extra().tracer = tr;
    }
    if (tr != null) node.traced = true;
    return true;
  }

  /** This tasklet's pid. Any thread. */
  public Pid pid() { return pid; }

  /** The node this tasklet lives on. Any thread. */
  public Node node() { return node; }

  /** The mailbox: the tasklet itself (see the class comment). Owner only for receiving. */
  public Mailbox mailbox() { return this; }

  /** Whether it has not yet ended. Any thread. */
  public boolean isAlive() { return state != DONE; }

  /**
   * Whether it has ended or an exit signal that will end it is pending (it
   * acts on it at its next suspension point). What {@code alive?} and
   * {@code process-info} report, so that they are ordered after the caller's
   * own signals, as Erlang's is_process_alive is: once a caller has sent a
   * fatal exit signal, the target is no longer alive to that caller. Any thread.
   */
  public boolean isExiting() { return pendingExit != null || state == DONE; }

  /**
   * Whether an exit signal is pending: a {@link TaskletExit} caught now came
   * from a signal (or {@code (exit (self) reason)}), not from a plain
   * {@code (exit reason)}, which sets nothing. Owner only.
   */
  public boolean exitSignalled() { return pendingExit != null; }

  /**
   * A point where a long computation lets signals in: end at once (throw
   * {@link TaskletExit}) when an exit signal is pending, and count one
   * reduction, giving the worker to other tasklets when the time slice is
   * spent. Costs a volatile read and an increment otherwise. Owner only.
   */
  public void checkSignals() {
    checkExit();
    reduce();
  }

  /** The tasklet's life: its function, then termination. Its strand only. */
  @Override public void run() {
    // Only `this` is live across the body's call: this frame is frozen with
    // every waiting tasklet, and each live value is a stack slot in it.
    Object reason;
    try {
      begin().invoke();
      reason = pendingExit;   // an exit signal that came while it was busy wins
    } catch (TaskletExit e) {
      reason = e.reason;
    } catch (Throwable e) {
      CrashHandler.crashed(this, e);
      return;
    }
    node.terminate(this, reason == null ? node.terms.normal() : reason);
  }

  /**
   * Install the conveyed bindings and hand over the body, once. The context
   * stays in {@link #context} (see ContinuationStrand.runSlice). Its strand only.
   */
  private IFn begin() {
    installContext();
    checkExit();
    Object i = initial;
    if (i instanceof Start s) {
      initial = s.initialFn();   // the wrapping closure (and the arguments it holds) can go
      return s.body();
    }
    return (IFn) i;
  }

  /** {@link Worker#frame} when the context its thread holds is not known. */
  static final Object NO_CONTEXT = new Object();

  /**
   * Make {@link #context} the calling thread's context, unless it already is.
   * Why the check: most slices make no binding and the tasklets of a worker
   * mostly share their spawner's frame, so every resume would write the same
   * frame into the worker thread's ThreadLocal again (a hash lookup, and
   * under G1 a StoreLoad fence in the post-write barrier of a reference store
   * into an old object). The home worker remembers the context its thread
   * holds between slices ({@link Worker#frame}: what the last tasklet to
   * yield there captured, NO_CONTEXT once a tasklet ended there, since its
   * body may leave anything installed). Invariant: between slices a worker's
   * frame is NO_CONTEXT or its thread's context; only the home worker runs a
   * tasklet's continuation, and nothing but slices runs on a worker thread.
   * Elsewhere (the virtual or thread strand, the deterministic scheduler's
   * driver) it always installs. ContinuationStrand.runSlice makes the same
   * check before every slice of a continuation tasklet. Its strand only.
   */
  void installContext() {
    Object frame = context;
    Worker w = home();
    if (w != null && w == Thread.currentThread()) {
      if (w.frame == frame) return;
      w.frame = frame;
    }
    node.context.install(frame);
  }

  // ---- waiting -------------------------------------------------------------

  /**
   * Append a message, applying the mailbox limit if there is one (a tasklet
   * without a limit pays one load and a null check). Any thread.
   */
  @Override public void put(Object msg) {
    Extra e = extra;
    MailboxLimit l;
    if (e == null || (l = e.limit) == null || l.admit(this)) super.put(msg);
  }

  /**
   * Put {@code msg} in the mailbox and wake the tasklet; dropped once it is
   * dead. Any thread. To a parked tasklet without a mailbox limit (a hop of
   * request/reply or a ring) the message goes uncounted and the state cas is
   * the only atomic after the xchg: it publishes the message and resumes the
   * tasklet, as wake() does; losing the cas (another waker, or an exit signal
   * first) falls back to wake() behind a fence of its own, since no counter
   * add fenced this put.
   */
  void deliver(Object msg) {
    int s = state;
    if (s == PARKED && extra == null) {
      putUncounted(msg);
      if (STATE.compareAndSet(this, PARKED, RUNNABLE)) {
        strand().resume(this);
        return;
      }
      VarHandle.fullFence();
      wake();
    } else if (s != DONE) {
      put(msg);
      wake();
    }
  }

  /**
   * Make this tasklet look at its mailbox again. Any thread, after making its
   * change (a message, a signal) visible with a full-fence atomic: the
   * message's Mailbox.put, a cas or a volatile store.
   */
  public void wake() {
    if (state == PARKED && STATE.compareAndSet(this, PARKED, RUNNABLE)) {
      strand().resume(this);
      return;
    }
    // No fence of its own: the caller's change (a message, an exit signal, a
    // callback's flag) was made visible by a full-fence atomic (Mailbox.put's
    // counter add, a cas, a volatile store) before this read of the permit,
    // the store-load pair with receive's look at it.
    if (permit == 1 || (int) PERMIT.getAndSet(this, 1) == 1) return;
    int s = state;
    if (s == PARKED) {
      if (STATE.compareAndSet(this, PARKED, RUNNABLE)) strand().resume(this);
    } else if (s == BLOCKED) {
      // a blocked plain or virtual thread is the carrier itself; a pinned
      // continuation blocks the worker it always runs on (its home)
      Thread t = carrier instanceof Thread th ? th : home();
      if (t != null) LockSupport.unpark(t);
    }
  }

  /**
   * Park the current thread until permit is set. An interrupt of that thread
   * (the REPL's interrupt, Future.cancel, an executor's shutdownNow) ends the
   * wait: park returns at once while the interrupt status is set, so waiting
   * on would spin a core. It throws ex-info {:tasklet/error :interrupted}
   * with the status cleared (the exception carries the interrupt, as an
   * InterruptedException would); the receive that called this leaves every
   * message in the mailbox, and a plain thread keeps its pid. Owner only, on
   * its own thread.
   */
  void block() {
    state = BLOCKED;
    while ((int) PERMIT.getAndSet(this, 0) == 0) {
      if (Thread.interrupted()) {
        state = RUNNING;
        throw interrupted();
      }
      LockSupport.park(this);
    }
    state = RUNNING;
  }

  private RuntimeException interrupted() {
    return node.terms.error("interrupted", "receive in " + pid + " was interrupted"
        + " (Thread.interrupt, e.g. the REPL's interrupt) while waiting; the tasklet keeps its pid"
        + " and every message stays in its mailbox, so receive again to go on waiting", "pid", pid);
  }

  /** Consume the wake-up permit: true when one had arrived (look again), false: suspend. Owner only. */
  boolean takePermit() { return permit == 1 && (int) PERMIT.getAndSet(this, 0) == 1; }

  /**
   * Called by a worker before it runs this tasklet's continuation. Worker only.
   * A release store, no fence: a waker that reads RUNNING, or still the
   * RUNNABLE before it, does nothing either way. The permit is left as it
   * is: a permit still set costs the next receive that finds nothing one
   * extra look, and meanwhile every wake() is a plain read instead of an
   * atomic exchange (fan-in: each sender to a busy receiver).
   */
  void onResume() {
    STATE.setRelease(this, RUNNING);
  }

  /** Set a state no waker acts on (RUNNING, PARKING, YIELDING, RUNNABLE), without a fence. Owner or its worker. */
  void setStateQuietly(int s) {
    STATE.setRelease(this, s);
  }

  /**
   * Called by a worker after the continuation returned without finishing.
   * Returns true when the tasklet must be run again (it yielded its time
   * slice, or a wake-up arrived while it was parking). Worker only.
   */
  boolean afterYield() {
    int s = state;
    if (s == YIELDING) {
      STATE.setRelease(this, RUNNABLE);
      return true;
    }
    if (s == PARKING) {
      state = PARKED;   // volatile: the store-load pair with wake()'s exchange of permit
      return permit == 1 && STATE.compareAndSet(this, PARKED, RUNNABLE);
    }
    return false;
  }

  // ---- receive -------------------------------------------------------------

  /**
   * Selective receive with no timeout, scanning from the oldest message: what
   * {@link #receive(IFn, long, Object, boolean)} does for a negative timeout
   * and no mark. Most waiting tasklets wait here, and the frame a continuation
   * freezes holds every stack slot of the method it parks in, so this one keeps
   * only {@code this} and the matcher live across the suspension (the general
   * method's timeout bookkeeping would add about 100 bytes per waiting
   * tasklet). Owner only.
   */
  public Object receive(IFn matcher) {
    checkExit();
    if (extra != null && tracer() != null) return TracedReceive.receive(this, matcher, -1, null, false);
    try {
      endScan();
      Object r;
      while ((r = scan(matcher)) == null) {
        if (permit == 0 || (int) PERMIT.getAndSet(this, 0) == 0) strand().suspend(this);
        checkExit();
        if (extra != null && tracer() != null) return TracedReceive.receive(this, matcher, -1, null, true);
      }
      return handled(r);
    } catch (Throwable t) {
      endScan();
      throw t;
    }
  }

  /**
   * Selective receive: the first message (oldest first) for which
   * {@code matcher} returns non-null is removed and the matcher's result
   * returned. With {@code fromMark}, the scan starts where the last
   * {@link Mailbox#mark()} left it (only messages put after the mark). Waits up to {@code timeoutNanos} (negative: for ever; 0: only
   * look), then returns {@code timeoutValue}. Throws {@link TaskletExit} when
   * an exit signal ends this tasklet meanwhile. Owner only.
   */
  public Object receive(IFn matcher, long timeoutNanos, Object timeoutValue, boolean fromMark) {
    checkExit();
    if (extra != null && !(matcher instanceof TracedReceive.Taking) && tracer() != null) {
      return TracedReceive.receive(this, matcher, timeoutNanos, timeoutValue, fromMark);
    }
    if (!fromMark) endScan();   // a plain receive scans from the oldest message
    Object r = scan(matcher);
    if (r != null) return handled(r);
    if (timeoutNanos == 0) {
      endScan();
      return timeoutValue;
    }
    Timers timers = node.timers;
    Timers.Timeout timeout = null;
    long deadline = 0;
    if (timeoutNanos > 0) {
      deadline = timers.clock().nanoTime() + timeoutNanos;
      timeout = timers.schedule(timeoutNanos, this::wake);
    }
    try {
      for (;;) {
        // the park step above, written inline: every frame here is kept per waiting tasklet
        if (permit == 0 || (int) PERMIT.getAndSet(this, 0) == 0) strand().suspend(this);
        checkExit();
        if (extra != null && !(matcher instanceof TracedReceive.Taking) && tracer() != null) {
          // traced while waiting: carry on as a traced receive, from the same
          // scan position (fromMark keeps the cursor), with the time left
          long left = timeout == null ? -1 : Math.max(0, deadline - timers.clock().nanoTime());
          return TracedReceive.receive(this, matcher, left, timeoutValue, true);
        }
        r = scan(matcher);
        if (r != null) return handled(r);
        if (timeout != null && timers.clock().nanoTime() - deadline >= 0) {
          endScan();
          return timeoutValue;
        }
      }
    } catch (Throwable t) {
      endScan();
      throw t;
    } finally {
      if (timeout != null) timeout.cancel();
    }
  }

  private Object handled(Object r) {
    Extra e = extra;
    if (e != null && e.limit != null) e.limit.taken();
    totalReductions++;
    reduce();
    return r;
  }

  /**
   * A receiver this far behind (messages waiting, about) while it is busy
   * makes each of its senders give up its time slice: see {@link #reduceSend}.
   */
  static final int PACE_BACKLOG = 1024;

  /**
   * Count a send to {@code to} for the fairness budget; when {@code to} is
   * busy (not waiting in receive) with at least PACE_BACKLOG messages behind,
   * end this slice as well, as Erlang charges a sender to a long queue more
   * reductions. Why: senders faster than their receiver otherwise grow its
   * mailbox without bound, and a mailbox is a linked list that the collector
   * copies one node after the other (measured, W4 4->1 under G1: backlogs of
   * 0.7-3.7 million messages, young pauses of 0.4-1.0 s; with this, 1,500-20,000).
   * The senders yield and the receiver (on their worker, or on its own)
   * catches up; a receiver parked with a backlog is waiting for a particular
   * message and paces no one. Only a yield: waiting for the backlog to shrink
   * cost a many-to-many flood 35x (doc/adr/0007). Owner only.
   */
  void reduceSend(Tasklet to) {
    if (to != this && to.backlog() >= PACE_BACKLOG && busy(to)) {
      reductions = (short) node.reductionBudget;
    }
    reduce();
  }

  private static boolean busy(Tasklet t) {
    int s = t.state;
    return s == RUNNING || s == RUNNABLE || s == YIELDING;
  }

  /** Count a unit of work for the fairness budget (a send). Owner only. */
  void reduce() {
    if (++reductions >= node.reductionBudget) {
      reductions = 0;
      strand().yieldSlice(this);
    }
  }

  /** Throw if an exit signal has ended this tasklet. Owner only. */
  void checkExit() {
    Object r = pendingExit;
    if (r != null) exitNow(r);
  }

  /**
   * End this tasklet by unwinding its stack with {@code reason}. A plain
   * thread's tasklet is terminated here, since no body wraps that thread; the
   * thread gets a fresh pid if it asks again. Owner only.
   */
  public void exitNow(Object reason) {
    if (threadTasklet) node.terminate(this, reason);
    throw new TaskletExit(reason);
  }

  /** Record an exit signal that ends this tasklet; the first one wins. Any thread. */
  void signalExit(Object reason) {
    if (PENDING_EXIT.compareAndSet(this, null, reason)) wake();
  }

  /**
   * What the crash report of this tasklet should carry besides its exception
   * (a server's last message and state), set just before it ends; null
   * clears it. Owner only.
   */
  public void setCrashContext(Object ctx) {
    synchronized (this) {
      if (ctx != null || extra != null) extra().crashContext = ctx;
    }
  }

  @Override public String toString() { return "tasklet " + pid; }
}
