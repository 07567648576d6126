package tasklet.kernel;

import clojure.lang.IFn;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * A tasklet's mailbox: a lock-free multi-producer single-consumer queue with
 * selective receive.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Algorithm: D. Vyukov's intrusive MPSC linked queue ("non-intrusive MPSC
 * node-based queue"), as ported in JCTools' MpscMailLinkedQueue: a producer swaps
 * itself into {@code tail} (one xchg) and then links its predecessor to itself.
 * The consumer owns {@code head}, a stub whose {@code next} is the oldest node.
 *
 * Deviations for selective receive:
 *  1. The consumer does not only pop the oldest node: it scans forward with a
 *     cursor and removes the first node that the matcher accepts. Nodes it
 *     passes over stay where they are; they are the "save list" of Erlang's
 *     receive, and the next receive scans them first, in order.
 *  2. A matched node right after the stub becomes the new stub (the usual pop).
 *     A matched node further on is unlinked from its predecessor when it has a
 *     successor; when it has none it may still be the tail, which a producer may
 *     be about to link from, so it stays as a hole (msg = TAKEN) and is unlinked
 *     by a later scan once it has a successor.
 *  3. The cursor survives a suspension within one receive, so a wake-up scans
 *     only what arrived since, never the messages this receive already refused.
 *  4. {@link #mark()} remembers the current last node so a receive that can only
 *     match messages sent after the mark (a reply carrying a fresh ref) starts
 *     there, skipping any backlog (Erlang's receive-marker optimisation).
 *
 * The fundamental invariants are:
 *  - Only the consumer writes head, a node's msg after publication, and the
 *    next of a node that already has a successor (unlinking).
 *  - Producers write only tail (xchg) and the next of the node the xchg returned.
 *  - A node whose next is null is never unlinked: it may be the tail.
 *  - Messages from one producer appear in the list in the order of its puts,
 *    and the scan visits the list in order, hence per-sender FIFO.
 * </pre>
 */
public class Mailbox extends MailLink {
  /** Marks a node whose message was taken while it could not be unlinked. */
  private static final Object TAKEN = new Object();


  private static final VarHandle TAIL, HEAD, NEXT, PUTS;
  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      PUTS = l.findVarHandle(Mailbox.class, "puts", int.class);
      TAIL = l.findVarHandle(Mailbox.class, "tail", MailLink.class);
      HEAD = l.findVarHandle(Mailbox.class, "head", MailLink.class);
      NEXT = l.findVarHandle(MailLink.class, "next", MailNode.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private MailLink head;          // consumer: the stub; sr so that size() from other threads sees a recent one
  private volatile MailLink tail; // producers: xchg
  private MailLink cursor;        // consumer: last node scanned by the receive in progress, or null
  private MailLink hole, holePrev; // consumer: the last hole left behind, and its predecessor then
  // puts - takes is the backlog (wrapping ints: only the difference means anything).
  // puts is one atomic add by a producer on the line its xchg of tail just took,
  // takes a plain store by the consumer; a producer reads takes racily.
  private volatile int puts;      // producers: atomic add after linking
  private int takes;              // consumer: messages removed

  /**
   * An empty mailbox, which is its own stub node: an empty queue costs no node
   * object (a Tasklet is a Mailbox, and most waiting tasklets have never had a
   * message).
   */
  public Mailbox() {
    head = this;
    tail = this;
  }

  /** Append a message. Any thread; wait-free (one xchg). */
  public void put(Object msg) {
    MailNode n = new MailNode(msg);
    MailLink prev = (MailLink) TAIL.getAndSet(this, n);
    // the "bubble": between the xchg and this store the consumer sees prev.next == null
    // and may suspend; the producer wakes it after this store, so nothing is lost.
    NEXT.setRelease(prev, n);
    // a full fence too: Tasklet.wake's read of the permit after this must not
    // pass the store of next above (see the permit protocol in Tasklet)
    PUTS.getAndAdd(this, 1);
  }

  /**
   * Append a message without counting it in {@link #backlog} and without a
   * fence: for a sender that found the consumer parked (Tasklet.deliver),
   * whose state cas is the fence. Any thread; wait-free (one xchg).
   */
  void putUncounted(Object msg) {
    MailNode n = new MailNode(msg);
    n.uncounted = true;
    MailLink prev = (MailLink) TAIL.getAndSet(this, n);
    NEXT.setRelease(prev, n);
  }

  /**
   * About how many messages wait (put and not yet taken, matched or not), in
   * O(1): what a sender looks at to pace itself. Messages put to a parked
   * consumer ({@link #putUncounted}) are not counted: a parked receiver paces
   * no one (Tasklet.reduceSend), and so the hop to it costs no atomic add.
   * Any thread; racy.
   */
  public int backlog() {
    return puts - takes;
  }

  /**
   * Scan for the first message the matcher accepts (returns non-null for), from
   * where the receive in progress stopped, or from the oldest message when none
   * is in progress. Removes it and returns the matcher's result, ending the
   * receive; returns null when nothing matches yet (the receive stays in
   * progress). A matcher that throws leaves the mailbox unchanged and ends the
   * receive. Consumer only.
   */
  public Object scan(IFn matcher) {
    MailLink prev = cursor != null ? cursor : head;
    try {
      for (;;) {
        MailNode n = (MailNode) NEXT.getAcquire(prev);
        if (n == null) {
          // Stopped at the stub: no cursor is the same place, and a reference
          // store into this (an old object, usually) costs a StoreLoad fence in
          // G1's post-write barrier on JDK 25 (doc/adr/0008). Not left as it was:
          // the hole case below may have moved head past the old cursor.
          if (prev != head) cursor = prev;
          else if (cursor != null) cursor = null;
          return null;
        }
        Object m = n.msg;
        if (m == TAKEN) {
          if (n.next != null && prev != head) {
            NEXT.setRelease(prev, n.next);   // unlink the hole, prev stays
            continue;
          }
          if (prev == head && n.next != null) {
            advanceHead(n);                  // the hole becomes the stub
            prev = n;
            continue;
          }
          prev = n;
          continue;
        }
        Object r = matcher.invoke(m);
        if (r != null) {
          remove(prev, n);
          cursor = null;
          return r;
        }
        prev = n;
      }
    } catch (Throwable t) {
      cursor = null;
      throw t;
    }
  }

  /**
   * Drop every message, for an owner that has ended: the current last node
   * becomes the stub. A put racing this may still land after it. Consumer only,
   * or once the consumer is gone.
   */
  void clear() {
    MailLink last = (MailLink) TAIL.getAcquire(this);
    last.msg = null;
    HEAD.setRelease(this, last);
    if (last != this) NEXT.setRelease(this, null);
    cursor = hole = holePrev = null;
    takes = puts;
  }

  /** Make {@code n}, the node after the stub, the stub. Consumer only. */
  private void advanceHead(MailNode n) {
    MailLink old = head;
    n.msg = null;
    HEAD.setRelease(this, n);
    // The first stub is this mailbox itself, which outlives the queue: let go
    // of the chain behind it, or every message it ever received stays reachable.
    if (old == this) NEXT.setRelease(this, null);
  }

  /** Abandon the receive in progress (timeout, exit). Consumer only. */
  public void endScan() { cursor = null; }

  /**
   * Begin a receive at the current end of the mailbox: the next {@link #scan}
   * looks only at messages put after this call. Consumer only, and only until
   * that scan: no other receive may run in between.
   */
  public void mark() {
    tidyHole();
    cursor = tail;
  }

  /**
   * Unlink the last hole once it has a successor. A receive from a mark never
   * passes the holes behind the mark, so without this a stream of marked
   * calls would leave one hole per call. Consumer only.
   */
  private void tidyHole() {
    MailLink h = hole, p = holePrev;
    if (h == null) return;
    MailNode nx = h.next;
    if (nx == null) return;                         // still the tail: try at the next mark
    hole = holePrev = null;
    if (h.msg == TAKEN && p.next == h) NEXT.setRelease(p, nx);
  }

  private void remove(MailLink prev, MailNode n) {
    if (!n.uncounted) takes++;
    if (prev == head) {
      advanceHead(n);                    // n becomes the stub
    } else if (n.next != null) {
      NEXT.setRelease(prev, n.next);     // n.next is stable once set
    } else {
      n.msg = TAKEN;                     // n may be the tail: leave a hole
      MailLink p = prev;
      if (prev == hole && holePrev.next == hole) {
        NEXT.setRelease(holePrev, n);    // the previous hole is n's predecessor: drop it now
        p = holePrev;
      } else {
        tidyHole();
      }
      hole = n;
      holePrev = p;
    }
  }

  /** poll's matcher: accepts anything; a nil message comes back as NIL. */
  private static final IFn ANY = new clojure.lang.AFn() {
    @Override public Object invoke(Object m) { return m == null ? NIL : m; }
  };
  private static final Object NIL = new Object();

  /**
   * Remove and return the oldest message, or null when empty (or when that
   * message is nil). Consumer only. A receive in progress is abandoned.
   */
  public Object poll() {
    cursor = null;
    Object m = scan(ANY);
    return m == NIL ? null : m;
  }

  /**
   * Number of messages waiting (holes excluded). Any thread; from a thread
   * other than the consumer it is a snapshot that may be slightly stale.
   */
  public int size() {
    int k = 0;
    for (MailNode n = (MailNode) NEXT.getAcquire((MailLink) HEAD.getAcquire(this)); n != null; n = n.next) {
      if (n.msg != TAKEN) k++;
    }
    return k;
  }

  /** Nodes linked after the stub, holes included: for tests of hole upkeep. Consumer only. */
  public int linkedNodes() {
    int k = 0;
    for (MailNode n = head.next; n != null; n = n.next) k++;
    return k;
  }

  /** The waiting messages, oldest first. Any thread, with {@link #size}'s caveat. */
  public List<Object> snapshot() {
    List<Object> out = new ArrayList<>();
    for (MailNode n = (MailNode) NEXT.getAcquire((MailLink) HEAD.getAcquire(this)); n != null; n = n.next) {
      Object m = n.msg;
      if (m != TAKEN && m != null) out.add(m);
    }
    return out;
  }
}

/** The fields of a queue node, which a {@link Mailbox} also has: it is its own first stub. */
class MailLink {
  Object msg;               // TAKEN once consumed in place; null in the stub
  volatile MailNode next;   // sr by producers (linking) and by the consumer (unlinking)
}

/** A queued message. */
final class MailNode extends MailLink {
  boolean uncounted;        // put by putUncounted: not in puts, so not in takes (in the padding: still 24 bytes)

  MailNode(Object msg) { this.msg = msg; }
}
