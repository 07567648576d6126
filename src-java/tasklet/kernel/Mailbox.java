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
 * node-based queue"), as ported in JCTools' MpscLinkedQueue: a producer swaps
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
public final class Mailbox {
  /** Marks a node whose message was taken while it could not be unlinked. */
  private static final Object TAKEN = new Object();

  static final class Node {
    Object msg;           // TAKEN once consumed in place; null in the stub
    volatile Node next;   // sr by producers (linking) and by the consumer (unlinking)
    Node(Object msg) { this.msg = msg; }
  }

  private static final VarHandle TAIL, HEAD, NEXT;
  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      TAIL = l.findVarHandle(Mailbox.class, "tail", Node.class);
      HEAD = l.findVarHandle(Mailbox.class, "head", Node.class);
      NEXT = l.findVarHandle(Node.class, "next", Node.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private Node head;          // consumer: the stub; sr so that size() from other threads sees a recent one
  private volatile Node tail; // producers: xchg
  private Node cursor;        // consumer: last node scanned by the receive in progress, or null
  private Node hole, holePrev; // consumer: the last hole left behind, and its predecessor then

  public Mailbox() {
    Node stub = new Node(null);
    head = stub;
    tail = stub;
  }

  /** Append a message. Any thread; wait-free (one xchg). */
  public void put(Object msg) {
    Node n = new Node(msg);
    Node prev = (Node) TAIL.getAndSet(this, n);
    // the "bubble": between the xchg and this store the consumer sees prev.next == null
    // and may suspend; the producer wakes it after this store, so nothing is lost.
    NEXT.setRelease(prev, n);
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
    Node prev = cursor != null ? cursor : head;
    try {
      for (;;) {
        Node n = (Node) NEXT.getAcquire(prev);
        if (n == null) {
          cursor = prev;
          return null;
        }
        Object m = n.msg;
        if (m == TAKEN) {
          if (n.next != null && prev != head) {
            NEXT.setRelease(prev, n.next);   // unlink the hole, prev stays
            continue;
          }
          if (prev == head && n.next != null) {
            n.msg = null;
            HEAD.setRelease(this, n);        // the hole becomes the stub
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
    Node h = hole, p = holePrev;
    if (h == null) return;
    Node nx = h.next;
    if (nx == null) return;                         // still the tail: try at the next mark
    hole = holePrev = null;
    if (h.msg == TAKEN && p.next == h) NEXT.setRelease(p, nx);
  }

  private void remove(Node prev, Node n) {
    if (prev == head) {
      n.msg = null;
      HEAD.setRelease(this, n);          // n becomes the stub
    } else if (n.next != null) {
      NEXT.setRelease(prev, n.next);     // n.next is stable once set
    } else {
      n.msg = TAKEN;                     // n may be the tail: leave a hole
      Node p = prev;
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
    for (Node n = (Node) NEXT.getAcquire((Node) HEAD.getAcquire(this)); n != null; n = n.next) {
      if (n.msg != TAKEN) k++;
    }
    return k;
  }

  /** Nodes linked after the stub, holes included: for tests of hole upkeep. Consumer only. */
  public int linkedNodes() {
    int k = 0;
    for (Node n = head.next; n != null; n = n.next) k++;
    return k;
  }

  /** The waiting messages, oldest first. Any thread, with {@link #size}'s caveat. */
  public List<Object> snapshot() {
    List<Object> out = new ArrayList<>();
    for (Node n = (Node) NEXT.getAcquire((Node) HEAD.getAcquire(this)); n != null; n = n.next) {
      Object m = n.msg;
      if (m != TAKEN && m != null) out.add(m);
    }
    return out;
  }
}
