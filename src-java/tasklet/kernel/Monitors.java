package tasklet.kernel;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The monitor table: on the watcher, the monitors it made
 * ({@code Extra.monitors}: ref -> pid or destination); on a local target,
 * who watches it ({@code Extra.monitoredBy}: ref -> watcher, and
 * {@code monitoredAs}: ref -> the name the watcher used). Routing a monitor
 * to a local or a remote target is decided here, as {@code send} decides.
 *
 * <pre>
 * Implementation notes
 * --------------------
 * A monitor is live while its ref is in the watcher's table. It ends in
 * exactly one of two ways, each a removal of that entry under the watcher's
 * monitor: {@link #fire} (the target ended, could not be reached, or its node
 * was lost: the :DOWN is put in the watcher's mailbox while that monitor is
 * still held) or {@link #demonitor}. So a monitor fires at most once, and a
 * demonitor that finds its entry gone knows the :DOWN is already in the
 * mailbox (OTP's demonitor/2 with [flush] removes it from there), while one
 * that took the entry knows no :DOWN for it will ever be delivered.
 *
 * Locking: the kernel's one rule ({@link Links#lockOrder}). A monitor of a
 * local target holds watcher and target at once, in pid order, to add both
 * halves only while the target is not DONE; all else holds one at a time.
 * The target's half (monitoredBy) is only a list of whom to notify: a stale
 * entry there (after a demonitor raced with the end) fires nothing, because
 * the watcher's entry decides.
 * </pre>
 */
public final class Monitors {
  private Monitors() {}

  // ---- making -----------------------------------------------------------------

  /**
   * Monitor {@code pid} as {@code watcher} under the fresh {@code ref}: a
   * pid of this JVM directly, another through distribution. A dead or
   * unknown pid gives [:DOWN ref :process pid :noproc] at once (so does a
   * remote pid without distribution); an unreachable node, :noconnection. A
   * switch point. Owner (watcher) only.
   */
  public static Ref monitor(Tasklet watcher, Pid pid, Ref ref) {
    Distribution d = watcher.node.distribution;
    if (NodeTable.resolve(pid) == null && !NodeTable.isLocal(pid) && d != null) {
      remote(watcher, d, ref, pid);
    } else {
      local(watcher, NodeTable.resolve(pid), pid, ref);
    }
    watcher.node.preempt("monitor", pid, ref);
    return ref;
  }

  /**
   * Monitor the tasklet registered as {@code name} on node {@code nodeName}
   * ({@code dest} is how the caller wrote it, for the :DOWN): on the
   * watcher's own node it is looked up now (nobody: :noproc at once), on
   * another through distribution (none: :noconnection at once). A switch
   * point. Owner (watcher) only.
   */
  public static Ref monitorName(Tasklet watcher, Object name, String nodeName, Object dest, Ref ref) {
    Node node = watcher.node;
    if (nodeName == null || nodeName.equals(node.name)) {
      Pid p = node.registry.whereis(name);
      local(watcher, p == null ? null : NodeTable.resolve(p), p != null ? p : dest, ref);
    } else if (node.distribution != null) {
      remote(watcher, node.distribution, ref, dest);
    } else {
      Node.send(watcher.pid, node.terms.downMessage(ref, dest, node.terms.noconnection()));
    }
    node.preempt("monitor", dest, ref);
    return ref;
  }

  /** {@code watcher} monitors the new tasklet {@code target} (not yet started). The watcher's strand. */
  static void monitorUnstarted(Tasklet watcher, Tasklet target, Ref ref) {
    synchronized (target) { by(target).put(ref, watcher.pid); }
    synchronized (watcher) { mine(watcher).put(ref, target.pid); }
  }

  private static void local(Tasklet watcher, Tasklet target, Object who, Ref ref) {
    if (target != null) {
      Tasklet a = Links.lockOrder(watcher, target) <= 0 ? watcher : target;
      Tasklet b = a == watcher ? target : watcher;
      synchronized (a) {
        synchronized (b) {
          if (target.state != Tasklet.DONE) {
            by(target).put(ref, watcher.pid);
            if (!who.equals(target.pid)) as(target).put(ref, who);
            mine(watcher).put(ref, target.pid);
            return;
          }
        }
      }
    }
    Node.send(watcher.pid, watcher.node.terms.downMessage(ref, who, watcher.node.terms.noproc()));
  }

  /** Recorded before distribution is asked, so that a :DOWN it fires at once finds the monitor. */
  private static void remote(Tasklet watcher, Distribution d, Ref ref, Object dest) {
    synchronized (watcher) { mine(watcher).put(ref, dest); }
    d.monitor(watcher.pid, ref, dest);
  }

  /** The local half of a monitor set by a remote watcher. False when the target is dead. Any thread. */
  public static boolean monitorFromRemote(Pid watcher, Tasklet target, Ref ref, Object who) {
    synchronized (target) {
      if (target.state == Tasklet.DONE) return false;
      by(target).put(ref, watcher);
      if (!who.equals(target.pid)) as(target).put(ref, who);
      return true;
    }
  }

  // ---- ending -----------------------------------------------------------------

  /**
   * Fire {@code watcher}'s monitor {@code ref}: if it is still live, remove
   * it and put {@code down} (its [:DOWN ...]) in the watcher's mailbox, both
   * under the watcher's monitor, and wake it; true then. False when it had
   * fired or was demonitored (nothing is delivered). The one way a monitor
   * fires, for every cause (local end, remote end, lost node, unreachable
   * target). Never calls the distribution or the calling tasklet's send path,
   * so it is safe from any thread holding no tasklet's monitor.
   */
  public static boolean fire(Tasklet watcher, Ref ref, Object down) {
    boolean fired;
    synchronized (watcher) {
      Extra e = watcher.extra;
      fired = e != null && e.monitors != null && e.monitors.remove(ref) != null;
      if (fired) watcher.put(down);   // a DONE watcher has no extra: never here
    }
    if (fired) watcher.wake();
    return fired;
  }

  /**
   * Remove {@code watcher}'s monitor {@code ref}. True when it was live: then
   * no :DOWN for it was or ever will be delivered (a local target's half is
   * dropped; a remote one's node is told through distribution). False: it
   * had fired (its :DOWN is in the mailbox) or never existed. A switch point.
   * Owner (watcher) only.
   */
  public static boolean demonitor(Tasklet watcher, Ref ref) {
    Object target;
    synchronized (watcher) {
      target = watcher.ex().monitors == null ? null : watcher.ex().monitors.remove(ref);
    }
    if (target != null) untie(watcher, ref, target);
    watcher.node.preempt("demonitor", ref, target != null);
    return target != null;
  }

  /** The watcher no longer has monitor {@code ref} of {@code target}: drop the target's half. */
  private static void untie(Tasklet watcher, Ref ref, Object target) {
    Tasklet t = target instanceof Pid p ? NodeTable.resolve(p) : null;
    if (t != null) {
      dropMonitoredBy(t, ref);
    } else {
      Distribution d = watcher.node.distribution;
      if (d != null) d.demonitor(watcher.pid, ref, target);
    }
  }

  /** Remove a monitor on a local target, by ref (the watcher's half decides, see the class notes). Any thread. */
  public static void dropMonitoredBy(Tasklet target, Ref ref) {
    synchronized (target) {
      if (target.ex().monitoredBy != null) target.ex().monitoredBy.remove(ref);
      if (target.ex().monitoredAs != null) target.ex().monitoredAs.remove(ref);
    }
  }

  /** The ending tasklet {@code t}'s watchers (taken from its record) get :DOWN with {@code reason}. Its strand. */
  static void targetEnded(Tasklet t, HashMap<Ref, Pid> watchers, HashMap<Ref, Object> as, Object reason) {
    Terms terms = t.node.terms;
    for (Map.Entry<Ref, Pid> e : watchers.entrySet()) {
      Ref ref = e.getKey();
      Object who = as != null && as.containsKey(ref) ? as.get(ref) : t.pid;
      Object down = terms.downMessage(ref, who, reason);
      Tasklet w = NodeTable.resolve(e.getValue());
      if (w != null) fire(w, ref, down);
      else Node.send(e.getValue(), down);   // a remote watcher: its node applies the same rule
    }
  }

  /** The ending tasklet {@code t}'s own monitors (taken from its record) are removed at their targets. Its strand. */
  static void watcherEnded(Tasklet t, HashMap<Ref, Object> mine) {
    for (Map.Entry<Ref, Object> e : mine.entrySet()) untie(t, e.getKey(), e.getValue());
  }

  /**
   * Fire {@code watcher}'s monitors of pids that {@code lost} accepts, with
   * {@code reason}: what losing their node does. Any thread.
   */
  static void lost(Tasklet watcher, Predicate<Pid> lost, Object reason) {
    List<Map.Entry<Ref, Pid>> hit = new ArrayList<>();
    synchronized (watcher) {
      LinkedHashMap<Ref, Object> mons = watcher.ex().monitors;
      if (mons == null) return;
      for (Iterator<Map.Entry<Ref, Object>> it = mons.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<Ref, Object> e = it.next();
        if (e.getValue() instanceof Pid p && lost.test(p)) hit.add(Map.entry(e.getKey(), p));
      }
    }
    for (Map.Entry<Ref, Pid> e : hit) {
      if (fire(watcher, e.getKey(), watcher.node.terms.downMessage(e.getKey(), e.getValue(), reason))) {
        Tasklet target = NodeTable.resolve(e.getValue());
        if (target != null) dropMonitoredBy(target, e.getKey());
      }
    }
  }

  private static LinkedHashMap<Ref, Object> mine(Tasklet t) {
    Extra e = t.extra();
    if (e.monitors == null) e.monitors = new LinkedHashMap<>(4);
    return e.monitors;
  }

  private static LinkedHashMap<Ref, Pid> by(Tasklet t) {
    Extra e = t.extra();
    if (e.monitoredBy == null) e.monitoredBy = new LinkedHashMap<>(4);
    return e.monitoredBy;
  }

  private static LinkedHashMap<Ref, Object> as(Tasklet t) {
    Extra e = t.extra();
    if (e.monitoredAs == null) e.monitoredAs = new LinkedHashMap<>(4);
    return e.monitoredAs;
  }
}
