package tasklet.kernel;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The link table: each tasklet's set of linked pids ({@code Extra.links}),
 * local or remote, and the operations that keep both halves of a link
 * consistent. What an ending tasklet's links get is {@link Signals}'.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * Locking (the kernel's one rule, see {@link #lockOrder}): a tasklet's link
 * set is guarded by its monitor. Linking two local tasklets holds both
 * monitors at once, taken in pid order; everything else here holds one
 * monitor at a time. Exit signals are sent after the monitors are released.
 *
 * Invariants:
 *  - A DONE tasklet gains no link: a link is added only after seeing the
 *    target not DONE under its monitor, and terminate sets DONE under it.
 *  - Each end of a link is signalled at most once: whoever removes the peer's
 *    half under the peer's monitor (the other end's terminate, a lost-node
 *    sweep, a remote EXIT) is the one that signals it.
 * </pre>
 */
public final class Links {
  private Links() {}

  /**
   * The one lock-order rule of the kernel: code that must hold two
   * tasklets' monitors at once (a link or a monitor between two local
   * tasklets) takes first the one this orders first: by pid serial, then node
   * name, then incarnation, a total order on the tasklets of every node of
   * this JVM (serials repeat across nodes). No code holds more than two, and
   * none holds one while it sends, waits or calls the distribution. Hence two
   * tasklets linking or monitoring each other at once cannot deadlock.
   */
  static int lockOrder(Tasklet x, Tasklet y) {
    int c = Long.compare(x.pid.serial, y.pid.serial);
    if (c == 0) c = x.pid.node.compareTo(y.pid.node);
    return c != 0 ? c : Integer.compare(x.pid.incarnation, y.pid.incarnation);
  }

  /** Link a new tasklet {@code child} (not yet started) to {@code parent}. The parent's strand. */
  static void linkUnstarted(Tasklet parent, Tasklet child) {
    synchronized (child) { set(child).add(parent.pid); }
    synchronized (parent) { set(parent).add(child.pid); }
  }

  /**
   * Link the calling tasklet {@code self} to {@code pid}, local or remote
   * (through distribution). A dead or unknown local pid, or a remote one
   * without distribution, gives {@code self} the exit signal :noproc. A
   * switch point of the deterministic scheduler. Owner (self) only.
   */
  public static void link(Tasklet self, Pid pid) {
    if (pid.equals(self.pid)) return;
    Distribution d = self.node.remoteFor(pid);
    Tasklet t = d == null ? NodeTable.resolve(pid) : null;
    boolean linked;
    if (t == null) {
      linked = d != null;
      if (linked) {
        synchronized (self) { set(self).add(pid); }
        d.link(self.pid, pid);
      }
    } else {
      Tasklet a = lockOrder(self, t) <= 0 ? self : t;
      Tasklet b = a == self ? t : self;
      synchronized (a) {
        synchronized (b) {
          linked = t.state != Tasklet.DONE;
          if (linked) {
            set(self).add(t.pid);
            set(t).add(self.pid);
          }
        }
      }
    }
    if (linked) {
      Tracer tr = self.tracer();
      if (tr != null) tr.trace(self.pid, "link", pid, null);
    } else {
      Signals.exitSignal(self, pid, self.node.terms.noproc(), true);
    }
    self.node.preempt(null, null, null);   // traced as "link" above
  }

  /** Remove a link in both directions (through distribution for a remote pid). A switch point. Owner (self) only. */
  public static void unlink(Tasklet self, Pid pid) {
    remove(self, pid);
    Distribution d = self.node.remoteFor(pid);
    Tasklet t = d == null ? NodeTable.resolve(pid) : null;
    if (t != null) {
      remove(t, self.pid);
    } else if (d != null) {
      d.unlink(self.pid, pid);
    }
    self.node.preempt("unlink", pid, null);
  }

  /** The local half of a link from remote {@code from} to local {@code to}; false when {@code to} is dead. Any thread. */
  public static boolean linkFromRemote(Pid from, Tasklet to) {
    synchronized (to) {
      if (to.state == Tasklet.DONE) return false;
      set(to).add(from);
      return true;
    }
  }

  /** Remove the local half of a link with a remote pid. Any thread. */
  public static void unlinkFromRemote(Pid from, Tasklet to) { remove(to, from); }

  /**
   * {@code from}, linked to local {@code target}, ended or became unreachable
   * with {@code reason}: if {@code target} still had the link, it is removed
   * and {@code target} gets the exit signal. Any thread.
   */
  public static void remoteExit(Tasklet target, Pid from, Object reason) {
    if (remove(target, from)) Signals.exitSignal(target, from, reason, true);
  }

  /** Remove {@code peer} from {@code t}'s links; true when it was there. Any thread. */
  static boolean remove(Tasklet t, Pid peer) {
    synchronized (t) { return t.ex().links != null && t.ex().links.remove(peer); }
  }

  /** The ending tasklet {@code t}'s links (taken from its record) get its exit signal. Its strand. */
  static void ended(Tasklet t, Set<Pid> links, Object reason) {
    for (Pid p : links) {
      Distribution d = t.node.remoteFor(p);
      Tasklet peer = d == null ? NodeTable.resolve(p) : null;
      if (peer != null) {
        // only while the peer still has the link: an unlink took it away meanwhile
        remoteExit(peer, t.pid, reason);
      } else if (d != null) {
        d.exit(t.pid, p, reason, true);
      }
    }
  }

  private static LinkedHashSet<Pid> set(Tasklet t) {
    Extra e = t.extra();
    if (e.links == null) e.links = new LinkedHashSet<>(4);
    return e.links;
  }
}
