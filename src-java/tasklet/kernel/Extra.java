package tasklet.kernel;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;

/**
 * The rarely used part of a process record ({@link Tasklet#extra}), kept
 * apart to keep waiting tasklets small: links ({@link Links}), monitors
 * ({@link Monitors}), a registered name ({@link Registry}), timers, aliases,
 * a mailbox limit, a crash context and a tracer. Guarded by the tasklet's
 * monitor. Once the tasklet is DONE its record is detached and read only by
 * its terminate (every writer checks DONE first, under that monitor).
 */
final class Extra {
  static final Extra NONE = new Extra();  // read-only stand-in for "no extra yet"
  // Insertion-ordered: an ending tasklet signals its links and monitors in
  // the order they were made, not in the hash order of pids and refs (which
  // include node names and incarnations), so a deterministic run repeats.
  LinkedHashSet<Pid> links;                // pids (local or remote)
  LinkedHashMap<Ref, Object> monitors;     // refs this tasklet made -> monitored pid or destination
  LinkedHashMap<Ref, Pid> monitoredBy;     // refs watching this tasklet -> watcher
  LinkedHashMap<Ref, Object> monitoredAs;  // ref -> how the watcher named this tasklet (pid or name)
  Object registeredName;
  Timer timers;                            // timers that end with this tasklet (see ProcessTimers)
  HashMap<Ref, Integer> aliases;           // active aliases -> mode (see Aliases)
  MailboxLimit limit;                      // spawn-opt :max-mailbox; set before start, then read-only
  Object crashContext;                     // see setCrashContext
  volatile Tracer tracer;                  // see Tracer; null when untraced
}
