package tasklet.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A tasklet's mailbox limit (spawn-opt's {@code :max-mailbox}) and its
 * policy: past {@code max} queued messages, drop the newest (counted), or end
 * the tasklet with {@code [:mailbox-overflow max]} (untrappable, as Erlang's
 * max_heap_size kill). Made before the tasklet starts and kept in its
 * Extra; a tasklet without one pays one load and a null check per message.
 *
 * <p>Only limited tasklets count their queued messages: every put through
 * {@link Tasklet#put} counts one, every message a receive takes uncounts one.
 * With {@code dropNewest} the count is claimed by CAS before the put, so the
 * limit is never exceeded; with the kill policy the put happens and the
 * first count past the limit signals the exit.
 */
final class MailboxLimit {
  private static final VarHandle QUEUED, DROPPED;
  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      QUEUED = l.findVarHandle(MailboxLimit.class, "queued", int.class);
      DROPPED = l.findVarHandle(MailboxLimit.class, "dropped", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final int max;
  final boolean dropNewest;
  private volatile int queued;       // messages in the mailbox
  private volatile long dropped;     // messages refused by dropNewest
  private volatile Object overflow;  // the reason an overflow ended the tasklet with

  /** Limit {@code t}'s mailbox to {@code max} messages with this policy. Before {@code t} starts only. */
  static void install(Tasklet t, int max, boolean dropNewest) {
    synchronized (t) { t.extra().limit = new MailboxLimit(max, dropNewest); }
  }

  MailboxLimit(int max, boolean dropNewest) {
    this.max = max;
    this.dropNewest = dropNewest;
  }

  /** Whether a message for {@code t} may be put; past the limit, applies the policy. Any thread. */
  boolean admit(Tasklet t) {
    if (dropNewest) {
      int q;
      do {
        q = queued;
        if (q >= max) {
          DROPPED.getAndAdd(this, 1L);
          return false;
        }
      } while (!QUEUED.compareAndSet(this, q, q + 1));
      return true;
    }
    if ((int) QUEUED.getAndAdd(this, 1) + 1 > max && overflow == null) {
      Object r = t.node.terms.mailboxOverflow(max);
      overflow = r;
      t.signalExit(r);
    }
    return true;
  }

  /** A receive took a message. Owner only. */
  void taken() { QUEUED.getAndAdd(this, -1); }

  /** Messages refused so far. Any thread. */
  long dropped() { return dropped; }

  /** Whether {@code reason} is the overflow this limit ended its tasklet with. Any thread. */
  boolean endedBy(Object reason) {
    Object o = overflow;
    return o != null && o.equals(reason);
  }
}
