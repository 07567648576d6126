package tasklet.kernel;

import clojure.lang.AFn;
import java.util.ArrayList;
import java.util.List;

/**
 * A node's user timers (Erlang's send_after, exit_after, interval timers), on
 * the node's {@link Timers} and clock, so that they run in virtual time under
 * {@link ManualTime}.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * A binary min-heap of {@link Timer}s ordered by due time, each timer knowing
 * its slot, so that cancel is O(log n) and a pending timer costs one small
 * object and one array slot. Only the earliest timer is handed to the node's
 * Timers (one scheduled task at a time, re-armed when an earlier timer comes
 * or the armed one fires), so a million pending timers put no load on the
 * underlying executor or on ManualTime's queue.
 *
 * A timer whose destination is a local pid is on that tasklet's list of
 * timers (Extra.timers); when the tasklet ends, Signals.terminate
 * cancels them all, so a timer to a dead pid costs nothing and retains
 * nothing. An interval timer to a name is on its starter's list instead.
 *
 * Firing runs on the Timers' thread (or the thread advancing ManualTime):
 * local deliveries and exit signals are made there directly (they never
 * block); a send or signal to another node goes through a short-lived
 * tasklet, since distribution may wait to connect.
 *
 * The fundamental invariants are:
 *  - index >= 0 exactly when the timer is in the heap (pending); cancel and
 *    read report only pending timers.
 *  - dest == null means cancelled (or done): it is never inserted again.
 *  - No tasklet monitor is taken while this object's monitor is held.
 * </pre>
 */
public final class ProcessTimers {
  private final Node node;
  private final Timers timers;
  private Timer[] heap = new Timer[16];
  private int size;
  private Timers.Timeout armed;   // the scheduled tick, for heap[0]
  private long armedDue;

  ProcessTimers(Node node, Timers timers) {
    this.node = node;
    this.timers = timers;
  }

  /**
   * Start a timer firing after {@code delayNanos} (and then every
   * {@code intervalNanos} when positive). {@code target}, when given, is the
   * tasklet whose end cancels it; a target already dead, or a {@code dest}
   * that is a dead pid of this JVM, gives a timer that never fires. Any thread.
   */
  public Timer start(byte kind, long delayNanos, long intervalNanos, Object dest, Object msg, Pid from,
                     Tasklet target) {
    Timer t = new Timer(this, kind, intervalNanos, dest, msg, from, target);
    if (target == null && dest instanceof Pid p && NodeTable.isLocal(p) && NodeTable.resolve(p) == null) {
      return inert(t);                    // a dead pid of this JVM (its pid no longer reaches it)
    }
    if (target != null) {
      synchronized (target) {
        if (target.isExiting()) return inert(t);
        Extra e = target.extra();
        t.nextT = e.timers;
        if (e.timers != null) e.timers.prevT = t;
        e.timers = t;
      }
    }
    synchronized (this) {
      if (t.dest == null) return t;          // its target ended meanwhile (targetEnded cleared it)
      t.due = timers.clock().nanoTime() + Math.max(0, delayNanos);
      insert(t);
      armFor(heap[0]);
    }
    return t;
  }

  /** A timer that is never pending (read-timer gives false) and retains nothing. */
  private static Timer inert(Timer t) {
    t.target = null;
    t.dest = t.msg = null;
    t.from = null;
    return t;
  }

  /** Start a send timer (kind SEND). Any thread. */
  public Timer sendAfter(long delayNanos, long intervalNanos, Object dest, Object msg, Tasklet target) {
    return start(Timer.SEND, delayNanos, intervalNanos, dest, msg, null, target);
  }

  /** Start an exit timer: {@code from} signals {@code pid} with {@code reason}. Any thread. */
  public Timer exitAfter(long delayNanos, Pid pid, Object reason, Pid from, Tasklet target) {
    return start(Timer.EXIT, delayNanos, 0, pid, reason, from, target);
  }

  /**
   * Cancel {@code t}: the nanoseconds it had left (at least 0), or -1 when it
   * was not pending (fired, cancelled, or never started). Any thread.
   */
  public long cancel(Timer t) {
    long left;
    synchronized (this) {
      if (t.index < 0) {
        t.dest = null;   // an interval timer caught between its sends stops too
        return -1;
      }
      left = Math.max(0, t.due - timers.clock().nanoTime());
      removeAt(t.index);
      clear(t);
    }
    unlinkFromTarget(t);
    return left;
  }

  /** Nanoseconds left (at least 0), or -1 when not pending. Any thread. */
  public synchronized long read(Timer t) {
    return t.index < 0 ? -1 : Math.max(0, t.due - timers.clock().nanoTime());
  }

  /** Number of pending timers. Any thread. */
  public synchronized int pending() { return size; }

  /**
   * The target of this list's timers has ended: cancel them all. The target
   * is DONE, so nobody else touches the list's links any more. Its strand.
   */
  static void targetEnded(Timer head) {
    for (Timer t = head; t != null; ) {
      Timer next = t.nextT;
      ProcessTimers s = t.service;
      synchronized (s) {
        if (t.index >= 0) s.removeAt(t.index);
        s.clear(t);
      }
      t.prevT = t.nextT = null;
      t.target = null;
      t = next;
    }
  }

  private void clear(Timer t) {
    t.dest = null;
    t.msg = null;
    t.from = null;
  }

  /** Take a timer that is no longer pending off its target's list; it then references no tasklet. */
  private void unlinkFromTarget(Timer t) {
    Tasklet target = t.target;
    if (target == null) return;
    synchronized (target) {
      Extra e = target.extra;
      // a DONE target's list belongs to targetEnded; an unlinked timer is on no list
      if (target.state != Tasklet.DONE && e != null && (t.prevT != null || e.timers == t)) {
        if (t.prevT != null) t.prevT.nextT = t.nextT;
        else e.timers = t.nextT;
        if (t.nextT != null) t.nextT.prevT = t.prevT;
        t.prevT = t.nextT = null;
      }
    }
    t.target = null;   // a timer ref kept by its starter retains no tasklet
  }

  // ---- firing ---------------------------------------------------------------

  /** The armed tick: fire what fell due, re-arm for the next. The Timers' thread. */
  private void tick() {
    List<Object> fire = new ArrayList<>();   // triples: timer, dest, msg
    List<Timer> done = new ArrayList<>();
    synchronized (this) {
      armed = null;
      long now = timers.clock().nanoTime();
      while (size > 0 && heap[0].due - now <= 0) {
        Timer t = heap[0];
        removeAt(0);
        fire.add(t);
        fire.add(t.dest);
        fire.add(t.msg);
        if (t.interval > 0) {
          long next = t.due + t.interval;
          t.due = next - now > 0 ? next : now + t.interval;
          insert(t);
        } else {
          done.add(t);
          t.dest = null;
          t.msg = null;
        }
      }
      if (size > 0) armFor(heap[0]);
    }
    for (int i = 0; i < fire.size(); i += 3) {
      Timer t = (Timer) fire.get(i);
      fireOne(t.kind, fire.get(i + 1), fire.get(i + 2), t.from);
    }
    for (Timer t : done) {
      unlinkFromTarget(t);
      t.from = null;
    }
  }

  private void fireOne(byte kind, Object dest, Object msg, Pid from) {
    try {
      if (kind == Timer.EXIT) {
        Pid p = (Pid) dest;
        Tasklet t = NodeTable.resolve(p);
        if (t != null) Signals.exitSignal(t, from, msg, false);
        else if (!NodeTable.isLocal(p) && node.distribution != null) remote(() -> node.distribution.exit(from, p, msg, false));
      } else if (dest instanceof Pid p) {
        Tasklet t = NodeTable.resolve(p);
        if (t != null) t.deliver(msg);
        else if (!NodeTable.isLocal(p) && node.distribution != null) remote(() -> node.distribution.send(p, msg));
      } else if (dest instanceof Ref alias) {
        Node n = NodeTable.named(alias.node);
        if (n != null && n.incarnation == alias.incarnation) Aliases.deliver(alias, msg);
        else if (node.distribution != null) remote(() -> node.distribution.sendAlias(alias, msg));
      } else if (dest instanceof List<?> named) {    // [name node-name]
        Object name = named.get(0);
        String nodeName = (String) named.get(1);
        if (nodeName.equals(node.name)) deliverNamed(name, msg);
        else remote(() -> node.sendNamed(name, nodeName, msg));
      } else {
        deliverNamed(dest, msg);
      }
    } catch (Throwable e) {
      System.getLogger("tasklet").log(System.Logger.Level.WARNING, "a timer could not fire", e);
    }
  }

  /** A name nobody has when the timer fires: dropped, as Erlang's send_after does. */
  private void deliverNamed(Object name, Object msg) {
    Pid p = node.registry.whereis(name);
    if (p == null) return;
    Tasklet t = NodeTable.resolve(p);
    if (t != null) t.deliver(msg);
  }

  /** Run {@code r} in a fresh tasklet of this node, which may wait (for a connection). */
  private void remote(Runnable r) {
    node.spawn(new AFn() {
      @Override public Object invoke() {
        try {
          r.run();
        } catch (RuntimeException e) {
          // an unreachable node or a refused name: a timer's send is dropped like any send
        }
        return null;
      }
    }, "timer", null, null, null, null);
  }

  private void armFor(Timer first) {
    if (armed != null && armedDue - first.due <= 0) return;
    if (armed != null) armed.cancel();
    armedDue = first.due;
    armed = timers.schedule(first.due - timers.clock().nanoTime(), this::tick);
  }

  // ---- the heap -------------------------------------------------------------

  private void insert(Timer t) {
    if (size == heap.length) heap = java.util.Arrays.copyOf(heap, size * 2);
    heap[size] = t;
    t.index = size;
    up(size++);
  }

  private void removeAt(int i) {
    Timer gone = heap[i];
    Timer last = heap[--size];
    heap[size] = null;
    gone.index = -1;
    if (i == size) return;
    heap[i] = last;
    last.index = i;
    up(i);
    down(last.index);
    if (size < heap.length / 4 && heap.length > 16) heap = java.util.Arrays.copyOf(heap, heap.length / 2);
  }

  private void up(int i) {
    Timer t = heap[i];
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      Timer p = heap[parent];
      if (p.due - t.due <= 0) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = t;
    t.index = i;
  }

  private void down(int i) {
    Timer t = heap[i];
    int half = size >>> 1;
    while (i < half) {
      int c = 2 * i + 1;
      Timer child = heap[c];
      int r = c + 1;
      if (r < size && heap[r].due - child.due < 0) child = heap[c = r];
      if (t.due - child.due <= 0) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = t;
    t.index = i;
  }
}
