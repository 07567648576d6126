package tasklet.kernel;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Erlang's signals between tasklets: links, monitors, exit signals and what a
 * tasklet's end sets off. Bookkeeping on a tasklet happens under its monitor;
 * a link takes both tasklets' monitors in pid-serial order, so two links made
 * at once from either end cannot deadlock. Messages and exit signals are sent
 * after the monitors are released.
 *
 * <p>The exit rules (doc/reference.md §2), applied by {@link #exitSignal}:
 * <ol>
 *   <li>{@code (exit pid :kill)}: untrappable; the target ends with {@code :killed}.</li>
 *   <li>A trapping target gets {@code [:EXIT from reason]} and keeps running.</li>
 *   <li>{@code :normal} is ignored, except from the target itself, which then ends.</li>
 *   <li>Any other reason ends the target with that reason.</li>
 * </ol>
 */
public final class Signals {
  private Signals() {}

  // ---- links -----------------------------------------------------------------

  static void linkUnstarted(Tasklet parent, Tasklet child) {
    synchronized (child) { links(child).add(parent.pid); }
    synchronized (parent) { links(parent).add(child.pid); }
  }

  /** Link the calling tasklet {@code self} to {@code pid}. Owner (self) only. */
  public static void link(Tasklet self, Pid pid) {
    if (pid.equals(self.pid)) return;
    Distribution d = self.node.remoteFor(pid);
    if (d != null) {
      synchronized (self) { links(self).add(pid); }
      d.link(self.pid, pid);
      traceLink(self, pid);
      return;
    }
    Tasklet t = NodeTable.resolve(pid);
    if (t == null) {
      exitSignal(self, pid, self.node.terms.noproc(), true);
      return;
    }
    // a total order on tasklets of every node of this JVM (serials repeat across
    // nodes), so two tasklets linking to each other at once never deadlock
    Tasklet a = lockOrder(self, t) <= 0 ? self : t;
    Tasklet b = a == self ? t : self;
    boolean dead;
    synchronized (a) {
      synchronized (b) {
        dead = t.state == Tasklet.DONE;
        if (!dead) {
          links(self).add(t.pid);
          links(t).add(self.pid);
        }
      }
    }
    if (dead) exitSignal(self, pid, self.node.terms.noproc(), true);
    else traceLink(self, pid);
  }

  private static int lockOrder(Tasklet x, Tasklet y) {
    int c = Long.compare(x.pid.serial, y.pid.serial);
    if (c == 0) c = x.pid.node.compareTo(y.pid.node);
    return c != 0 ? c : Long.compare(x.pid.incarnation, y.pid.incarnation);
  }

  private static void traceLink(Tasklet self, Pid pid) {
    Tracer tr = self.tracer();
    if (tr != null) tr.trace(self.pid, "link", pid, null);
  }

  /** Remove a link in both directions. Owner (self) only. */
  public static void unlink(Tasklet self, Pid pid) {
    synchronized (self) { if (self.ex().links != null) self.ex().links.remove(pid); }
    Distribution d = self.node.remoteFor(pid);
    Tasklet t = d == null ? NodeTable.resolve(pid) : null;
    if (t != null) {
      synchronized (t) { if (t.ex().links != null) t.ex().links.remove(self.pid); }
    } else if (d != null) {
      d.unlink(self.pid, pid);
    }
  }

  /** The remote half of a link: remote {@code from} linked to local {@code to}. Any thread. */
  public static boolean linkFromRemote(Pid from, Tasklet to) {
    synchronized (to) {
      if (to.state == Tasklet.DONE) return false;
      links(to).add(from);
      return true;
    }
  }

  /** Remove the local half of a link with a remote pid. Any thread. */
  public static void unlinkFromRemote(Pid from, Tasklet to) {
    synchronized (to) { if (to.ex().links != null) to.ex().links.remove(from); }
  }

  // ---- monitors --------------------------------------------------------------

  static void monitorUnstarted(Tasklet watcher, Tasklet target, Ref ref) {
    synchronized (target) {
      monitoredBy(target).put(ref, watcher.pid);
    }
    synchronized (watcher) { monitors(watcher).put(ref, target.pid); }
  }

  /**
   * Monitor {@code target} (known to be local or null) as {@code who} (its pid
   * or the name it was looked up by). A dead or missing target gives
   * {@code :noproc} at once. Owner (watcher) only.
   */
  public static Ref monitor(Tasklet watcher, Tasklet target, Object who) {
    return monitor(watcher, target, who, watcher.node.makeRef());
  }

  /** As {@link #monitor(Tasklet, Tasklet, Object)} with a given fresh {@code ref}. Owner (watcher) only. */
  public static Ref monitor(Tasklet watcher, Tasklet target, Object who, Ref ref) {
    Node node = watcher.node;
    if (target != null) {
      synchronized (target) {
        if (target.state != Tasklet.DONE) {
          monitoredBy(target).put(ref, watcher.pid);
          if (!who.equals(target.pid)) monitoredAs(target).put(ref, who);
          synchronized (watcher) { monitors(watcher).put(ref, target.pid); }
          return ref;
        }
      }
    }
    Node.send(watcher.pid, node.terms.downMessage(ref, who, node.terms.noproc()));
    return ref;
  }

  /** Record a monitor on a remote destination, made through distribution. Owner (watcher) only. */
  public static void monitorRemote(Tasklet watcher, Ref ref, Object dest) {
    synchronized (watcher) { monitors(watcher).put(ref, dest); }
  }

  /** The local half of a monitor set by a remote watcher. False when the target is dead. Any thread. */
  public static boolean monitorFromRemote(Pid watcher, Tasklet target, Ref ref, Object who) {
    synchronized (target) {
      if (target.state == Tasklet.DONE) return false;
      monitoredBy(target).put(ref, watcher);
      if (!who.equals(target.pid)) monitoredAs(target).put(ref, who);
      return true;
    }
  }

  /**
   * Remove the monitor {@code ref} made by {@code watcher}. Returns true when
   * it was still active: then no :DOWN for it was, or ever will be, delivered
   * by a local target (terminate checks the same entry under the same lock).
   * False: it had fired already (its :DOWN may be in the mailbox) or never
   * existed. Owner (watcher) only.
   */
  public static boolean demonitor(Tasklet watcher, Ref ref) {
    Object target;
    synchronized (watcher) {
      target = watcher.ex().monitors == null ? null : watcher.ex().monitors.remove(ref);
    }
    Distribution d = watcher.node.distribution;
    if (target instanceof Pid p && watcher.node.remoteFor(p) == null) {
      Tasklet t = NodeTable.resolve(p);
      if (t != null) {
        dropMonitoredBy(t, ref);
        return true;
      }
    } else if (target != null && d != null) {
      d.demonitor(watcher.pid, ref, target);
    }
    return false;
  }

  /** Remove a monitor on a local target, by ref. Any thread. */
  public static void dropMonitoredBy(Tasklet target, Ref ref) {
    synchronized (target) {
      if (target.ex().monitoredBy != null) target.ex().monitoredBy.remove(ref);
      if (target.ex().monitoredAs != null) target.ex().monitoredAs.remove(ref);
    }
  }

  // ---- exit signals ----------------------------------------------------------

  /**
   * Deliver an exit signal {@code reason} from {@code from} to local
   * {@code target}. {@code linked}: it comes from a link (so {@code :kill} is
   * an ordinary reason), else from {@code exit/2}. Any thread.
   */
  public static void exitSignal(Tasklet target, Pid from, Object reason, boolean linked) {
    if (target.state == Tasklet.DONE) return;
    Terms terms = target.node.terms;
    if (!linked && terms.kill().equals(reason)) {
      target.signalExit(terms.killed());
    } else if (target.trapExit) {
      target.deliver(terms.exitMessage(from, reason));
    } else if (terms.normal().equals(reason)) {
      if (from.equals(target.pid)) target.signalExit(reason);
    } else {
      target.signalExit(reason);
    }
  }

  /**
   * {@code (exit pid reason)} from the calling tasklet {@code self}: to itself
   * it acts at once (throwing {@link TaskletExit} when it ends). Owner only.
   */
  public static void exit(Tasklet self, Pid pid, Object reason) {
    if (pid.equals(self.pid)) {
      exitSignal(self, pid, reason, false);
      self.checkExit();
      return;
    }
    Distribution d = self.node.remoteFor(pid);
    Tasklet t = d == null ? NodeTable.resolve(pid) : null;
    if (t != null) {
      exitSignal(t, self.pid, reason, false);
    } else if (d != null) {
      d.exit(self.pid, pid, reason, false);
    }
  }

  // ---- the end ---------------------------------------------------------------

  /**
   * End tasklet {@code t} with {@code reason}: it stops being alive, leaves
   * the process table and the registry, its links get exit signals, its
   * watchers get :DOWN and its own monitors are removed (a crash report, if
   * any, is the caller's: see Tasklet). Idempotent. Its own strand (or housekeeping).
   */
  static void terminate(Tasklet t, Object reason) {
    HashSet<Pid> links;
    HashMap<Ref, Pid> watchers;
    HashMap<Ref, Object> as;
    HashMap<Ref, Object> mine;
    Object regName;
    Tracer tracer;
    Timer timers;
    HashMap<Ref, Integer> aliases;
    MailboxLimit limit;
    Object crashContext;
    synchronized (t) {
      if (t.state == Tasklet.DONE) return;
      t.state = Tasklet.DONE;
      Tasklet.Extra e = t.ex();
      links = e.links;
      watchers = e.monitoredBy;
      as = e.monitoredAs;
      mine = e.monitors;
      regName = e.registeredName;
      tracer = e.tracer;
      timers = e.timers;
      aliases = e.aliases;
      crashContext = e.crashContext;
      limit = e.limit;
      t.extra = null;
    }
    if (aliases != null) Aliases.ended(t, aliases);
    if (timers != null) ProcessTimers.targetEnded(timers);
    Node node = t.node;
    node.processes.remove(t);
    if (regName != null) node.registry.ended(regName, t.pid);
    t.clear();   // a dead tasklet retains no messages
    t.context = null;
    if (links != null) {
      for (Pid p : links) {
        Distribution d = node.remoteFor(p);
        Tasklet peer = d == null ? NodeTable.resolve(p) : null;
        if (peer != null) {
          // only while the peer still has the link: an unlink took it away meanwhile
          boolean linked;
          synchronized (peer) { linked = peer.ex().links != null && peer.ex().links.remove(t.pid); }
          if (linked) exitSignal(peer, t.pid, reason, true);
        } else if (d != null) {
          d.exit(t.pid, p, reason, true);
        }
      }
    }
    if (watchers != null) {
      for (Map.Entry<Ref, Pid> e : watchers.entrySet()) {
        Ref ref = e.getKey();
        Pid w = e.getValue();
        Object who = as != null && as.containsKey(ref) ? as.get(ref) : t.pid;
        Object down = node.terms.downMessage(ref, who, reason);
        Distribution d = node.remoteFor(w);
        if (d != null) {
          d.send(w, down);   // a remote watcher: its node checks its monitor table
          continue;
        }
        Tasklet wt = NodeTable.resolve(w);
        if (wt == null) continue;
        // deliver only if still monitored, atomically with the removal, so a
        // demonitor that finds the monitor gone knows its :DOWN is already queued
        boolean active;
        synchronized (wt) {
          active = wt.ex().monitors != null && wt.ex().monitors.remove(ref) != null;
          if (active && wt.state != Tasklet.DONE) wt.put(down);
        }
        if (active) wt.wake();
      }
    }
    if (mine != null) {
      for (Map.Entry<Ref, Object> e : mine.entrySet()) {
        Distribution d = node.distribution;
        if (e.getValue() instanceof Pid p && node.remoteFor(p) == null) {
          Tasklet target = NodeTable.resolve(p);
          if (target != null) dropMonitoredBy(target, e.getKey());
        } else if (d != null) {
          d.demonitor(t.pid, e.getKey(), e.getValue());
        }
      }
    }
    if (tracer != null) tracer.trace(t.pid, "exit", reason, null);
    if (limit != null && limit.endedBy(reason)) {
      crashReport(node, t, node.terms.error("mailbox-overflow", "tasklet " + t.pid + " had more than "
          + limit.max + " messages queued (spawn-opt :max-mailbox); it takes messages slower than they"
          + " come: apply back-pressure, or raise the limit", "limit", (long) limit.max, "pid", t.pid),
          crashContext);
    }
  }

  /** A crash report the kernel makes itself (a mailbox overflow kill): see CrashHandler. */
  private static void crashReport(Node node, Tasklet t, Throwable cause, Object context) {
    try {
      node.crashHandler().crashed(t.pid, t.initialFn, null, cause, context);
    } catch (Throwable e) {
      System.getLogger("tasklet").log(System.Logger.Level.ERROR, "crash handler failed", e);
    }
  }

  /**
   * Fire {@code watcher}'s monitor {@code ref} of a remote destination with
   * {@code down} (its [:DOWN ...]): atomically, under the watcher's lock,
   * the monitor leaves its table and the message enters its mailbox, only
   * if it still had the monitor. Its own demonitor takes the same lock, so
   * a demonitor either finds the DOWN in the mailbox (and can flush it) or
   * stops it here. True when delivered. Any thread that holds no tasklet's
   * lock.
   */
  public static boolean fireMonitor(Tasklet watcher, Ref ref, Object down) {
    boolean active;
    synchronized (watcher) {
      active = watcher.state != Tasklet.DONE && watcher.ex().monitors != null
          && watcher.ex().monitors.remove(ref) != null;
      if (active) watcher.put(down);
    }
    if (active) watcher.wake();
    return active;
  }

  /** Notify a local tasklet that remote {@code from} ended (link or monitor). Any thread. */
  public static void remoteExit(Tasklet target, Pid from, Object reason) {
    boolean linked;
    synchronized (target) { linked = target.ex().links != null && target.ex().links.remove(from); }
    if (linked) exitSignal(target, from, reason, true);
  }

  // ---- info ------------------------------------------------------------------

  /**
   * A snapshot of {@code t} with string keys (the Clojure layer keywordises
   * them), or null when it is dead or a fatal exit signal is pending for it
   * ({@link Tasklet#isExiting}). Any thread.
   */
  public static Map<String, Object> info(Tasklet t) {
    Map<String, Object> m = new LinkedHashMap<>();
    synchronized (t) {
      if (t.isExiting()) return null;
      m.put("status", t.statusName());
      m.put("mailbox-size", t.size());
      m.put("links", t.ex().links == null ? List.of() : new ArrayList<>(t.ex().links));
      List<Object> mons = new ArrayList<>();
      if (t.ex().monitors != null) mons.addAll(t.ex().monitors.values());
      m.put("monitors", mons);
      m.put("monitored-by", t.ex().monitoredBy == null ? List.of() : new ArrayList<>(t.ex().monitoredBy.values()));
      m.put("trap-exit", t.trapExit);
      m.put("registered-name", t.ex().registeredName);
      m.put("initial-fn", t.initialFn);
      m.put("reductions", t.totalReductions);
      m.put("strand", t.strand.name());
      MailboxLimit lim = t.ex().limit;
      m.put("max-mailbox", lim == null ? null : lim.max);
      m.put("dropped", lim == null ? 0L : lim.dropped());
    }
    return m;
  }

  /** Set the trap-exit flag, returning the old one. Owner only. */
  public static boolean trapExit(Tasklet self, boolean on) {
    boolean old = self.trapExit;
    self.trapExit = on;
    return old;
  }

  private static LinkedHashSet<Pid> links(Tasklet t) {
    Tasklet.Extra e = t.extra();
    if (e.links == null) e.links = new LinkedHashSet<>(4);
    return e.links;
  }

  private static LinkedHashMap<Ref, Object> monitors(Tasklet t) {
    Tasklet.Extra e = t.extra();
    if (e.monitors == null) e.monitors = new LinkedHashMap<>(4);
    return e.monitors;
  }

  private static LinkedHashMap<Ref, Pid> monitoredBy(Tasklet t) {
    Tasklet.Extra e = t.extra();
    if (e.monitoredBy == null) e.monitoredBy = new LinkedHashMap<>(4);
    return e.monitoredBy;
  }

  private static LinkedHashMap<Ref, Object> monitoredAs(Tasklet t) {
    Tasklet.Extra e = t.extra();
    if (e.monitoredAs == null) e.monitoredAs = new LinkedHashMap<>(4);
    return e.monitoredAs;
  }
}
