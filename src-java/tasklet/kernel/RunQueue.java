package tasklet.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A worker's queue of tasklets that have never run: a bounded single-producer
 * multi-consumer ring that other workers may steal from.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * The ring follows the Go runtime's per-P run queue (runqput/runqget/runqgrab):
 * the owning worker alone writes tail (sr) and the slots; the owner and thieves
 * take from head by cas, and a thief takes half of what it sees in one cas.
 *
 * The fundamental invariants are:
 *  - 0 <= tail - head <= CAPACITY, with head and tail ever increasing ints
 *    (overflow wraps consistently since only their difference is used).
 *  - Slots in [head, tail) hold tasklets not yet taken; a slot is written only
 *    by the owner and only while it lies outside [head, tail).
 *  - A thief reads slots before its cas on head; the cas succeeding proves the
 *    owner had not reused them (it only reuses slots below head).
 * </pre>
 */
final class RunQueue {
  static final int CAPACITY = 256;
  private static final int MASK = CAPACITY - 1;
  private static final VarHandle HEAD, TAIL;
  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      HEAD = l.findVarHandle(RunQueue.class, "head", int.class);
      TAIL = l.findVarHandle(RunQueue.class, "tail", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Tasklet[] ring = new Tasklet[CAPACITY];
  private volatile int head;     // cas by owner and thieves
  private volatile int tail;     // sr by owner only

  /**
   * Append; when the ring is full, first move its older half to
   * {@code overflow}. Owner only. Why t goes into the ring, not after the
   * half (as Go's runqputslow does): the overflow then holds tasklets
   * strictly oldest first and the ring the newest, so a thief's piece is a
   * run of consecutive spawns. With t in the overflow, every 129th tasklet
   * sat out of order there, and a ring or pipeline split at it paid two
   * cross-worker hops per round for each (bench W3: 10,000 spawns, 78 such).
   */
  void put(Tasklet t, java.util.Queue<Tasklet> overflow) {
    for (;;) {
      int h = (int) HEAD.getAcquire(this);
      int tl = tail;
      if (tl - h < CAPACITY) {
        ring[tl & MASK] = t;
        TAIL.setRelease(this, tl + 1);
        return;
      }
      int n = CAPACITY / 2;
      Tasklet[] batch = new Tasklet[n];
      for (int i = 0; i < n; i++) batch[i] = ring[(h + i) & MASK];
      if (!HEAD.compareAndSet(this, h, h + n)) continue;  // thieves made room: retry
      for (Tasklet b : batch) overflow.offer(b);
      // now there is room: the next round appends t to the ring
    }
  }

  /** Take the oldest tasklet from the ring, or null. Owner only. */
  Tasklet pollRing() {
    for (;;) {
      int h = (int) HEAD.getAcquire(this);
      int tl = tail;
      if (tl == h) return null;
      Tasklet t = ring[h & MASK];
      if (HEAD.compareAndSet(this, h, h + 1)) return t;
    }
  }

  /**
   * Move about half of this queue's ring into {@code into} (another worker's
   * queue, owned by the caller) and return one tasklet to run, or null; only
   * when at least {@code minimum} wait. Any thread but the owner.
   */
  Tasklet stealInto(RunQueue into, int minimum) {
    for (;;) {
      int h = (int) HEAD.getAcquire(this);
      int tl = (int) TAIL.getAcquire(this);
      int n = tl - h;
      if (n < minimum) return null;
      n = n - n / 2;
      if (n <= 0) return null;
      if (n > CAPACITY / 2) continue;   // inconsistent snapshot of head and tail: retry
      Tasklet first = ring[h & MASK];
      int intoTail = into.tail;
      int intoHead = (int) HEAD.getAcquire(into);
      int room = CAPACITY - (intoTail - intoHead);
      int moved = Math.min(n - 1, room);
      for (int i = 0; i < moved; i++) into.ring[(intoTail + i) & MASK] = ring[(h + 1 + i) & MASK];
      if (!HEAD.compareAndSet(this, h, h + 1 + moved)) continue;
      if (moved > 0) TAIL.setRelease(into, intoTail + moved);
      return first;
    }
  }

  /** The index of the oldest waiting slot (ever increasing, wrapping). Any thread. */
  int headIndex() {
    return head;
  }

  /** The index one past the newest slot (ever increasing, wrapping). Any thread. */
  int tailIndex() {
    return tail;
  }

  /** Whether anything waits here. Any thread. */
  boolean hasWork() {
    return tail != head;
  }

  /** Approximate number of waiting tasklets. Any thread. */
  int size() {
    return Math.max(0, tail - head);
  }
}
