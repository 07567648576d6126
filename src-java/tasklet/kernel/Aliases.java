package tasklet.kernel;

import java.util.HashMap;

/**
 * Process aliases (EEP 53): a {@link Ref} that routes messages to the tasklet
 * that made it, for as long as that tasklet keeps it active. A send through
 * an inactive alias is dropped by the kernel, which is what lets a call's
 * late reply never land, locally and across nodes.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Routing: each node keeps a table alias -> owner (Node.aliases), read by a
 * sender. Activity: the owner's record keeps alias -> mode
 * (Extra.aliases), guarded by the owner's monitor, and a delivery
 * through an alias checks the mode and puts the message while holding that
 * monitor. Hence an unalias (which takes the same monitor) is a clean cut:
 * a message sent through the alias is either in the mailbox when unalias
 * returns, or is never delivered.
 *
 * Modes (bits): REPLY deactivates on the first message through it;
 * DEMONITOR ties it to the owner's monitor of the same ref: active only while
 * that monitor is in the owner's table (checked at delivery, under the same
 * monitor that a :DOWN's delivery and a demonitor take, so it is exact).
 *
 * The fundamental invariants are:
 *  - An alias is active iff it is in its owner's Extra.aliases (and, for
 *    DEMONITOR, the monitor is in Extra.monitors) and the owner is not DONE.
 *  - Node.aliases may hold stale entries (a deactivated DEMONITOR alias until
 *    its next send or its owner's end); they route to a check that drops.
 *  - An ending tasklet's aliases all leave Node.aliases (Signals.terminate).
 * </pre>
 */
public final class Aliases {
  private Aliases() {}

  /** Alias modes (bits). */
  public static final int EXPLICIT = 0, REPLY = 1, DEMONITOR = 2;

  /** Make {@code ref} an active alias of {@code self} with {@code mode}. Owner only. */
  public static void alias(Tasklet self, Ref ref, int mode) {
    synchronized (self) {
      Extra e = self.extra();
      if (e.aliases == null) e.aliases = new HashMap<>(4);
      e.aliases.put(ref, mode);
    }
    self.node.aliases.put(ref, self);
  }

  /**
   * Deactivate alias {@code ref} of {@code self}; true when it was active.
   * After this returns, nothing sent through it is delivered. Owner only.
   */
  public static boolean unalias(Tasklet self, Ref ref) {
    boolean active;
    synchronized (self) {
      Extra e = self.extra;
      if (e == null || e.aliases == null) return false;
      Integer mode = e.aliases.remove(ref);
      active = mode != null && ((mode & DEMONITOR) == 0 || (e.monitors != null && e.monitors.containsKey(ref)));
    }
    self.node.aliases.remove(ref, self);
    return active;
  }

  /**
   * Deliver {@code msg} through {@code ref} if it is an active alias of a
   * tasklet of a node in this JVM; true when delivered, false when dropped
   * (inactive, unknown, or not of this JVM: never forwarded). Any thread.
   */
  public static boolean deliver(Ref ref, Object msg) {
    Node n = NodeTable.named(ref.node);
    if (n == null || n.incarnation != ref.incarnation) return false;
    Tasklet t = n.aliases.get(ref);
    if (t == null) return false;
    boolean delivered = false, drop = false;
    synchronized (t) {
      Extra e = t.extra;
      Integer mode = e == null || e.aliases == null ? null : e.aliases.get(ref);
      if (mode != null && t.state != Tasklet.DONE) {
        if ((mode & DEMONITOR) != 0 && (e.monitors == null || !e.monitors.containsKey(ref))) {
          e.aliases.remove(ref);           // the monitor went: so did the alias
          drop = true;
        } else {
          if ((mode & REPLY) != 0) {
            e.aliases.remove(ref);
            drop = true;
          }
          t.put(msg);
          delivered = true;
        }
      }
    }
    if (drop || !delivered) n.aliases.remove(ref, t);
    if (delivered) t.wake();
    return delivered;
  }

  /**
   * Send {@code msg} through alias {@code ref}: delivered here when the
   * alias is of this JVM, else passed to distribution (true: sent on). As a
   * send, it is a point where the calling tasklet acts on an exit signal.
   * Any thread.
   */
  public static boolean send(Ref ref, Object msg) {
    Tasklet me = Node.currentTasklet();
    if (me != null && me.state == Tasklet.DONE) me = null;   // sends made while ending
    if (me != null) me.checkExit();
    boolean sent;
    Node n = NodeTable.named(ref.node);
    if (n != null && n.incarnation == ref.incarnation) {
      sent = deliver(ref, msg);
    } else {
      Distribution d = Node.current().distribution;
      if (d != null) d.sendAlias(ref, msg);
      sent = d != null;
    }
    if (me != null) me.reduce();   // a send is a reduction (and, deterministically, a switch point)
    return sent;
  }

  /** An ending tasklet's aliases leave the routing table. Its strand. */
  static void ended(Tasklet t, HashMap<Ref, Integer> aliases) {
    for (Ref r : aliases.keySet()) t.node.aliases.remove(r, t);
  }
}
