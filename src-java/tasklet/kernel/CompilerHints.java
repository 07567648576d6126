package tasklet.kernel;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.ObjectName;

/**
 * Keeps the mailbox scan out of line in JIT-compiled code, through a HotSpot
 * compiler directive (JEP 165) added once at runtime.
 *
 * <p>Why: a waiting continuation tasklet keeps its frozen stack on the heap,
 * and a compiled frame reserves spill slots for everything inlined into it.
 * When C2 inlines the scan (and the matcher it calls) into the frame that
 * parks, each waiting tasklet's stack chunk roughly triples (measured on
 * Temurin 25: about 1,070 bytes instead of about 380). The scan runs once per
 * wake-up, so the out-of-line call costs a few nanoseconds where it happens.
 * So is {@link Tasklet}'s {@code begin} (installing the conveyed bindings,
 * once per tasklet). The save and restore of the dynamic-binding frame
 * around a yield (ThreadLocal lookups) were kept out of line for the same
 * reason (the chunk of a tasklet waiting in receive went from 296–368 to
 * 232–248 bytes); they now run on the worker's side of the yield
 * (ContinuationStrand.runSlice), in no frame a waiting tasklet keeps.
 *
 * <p>The other half: a tasklet's frames from {@code Continuation.enter} (the
 * JDK's entry frame) down to the user's receive are best one compiled frame,
 * since C2 keeps no register across a call and every separate frame costs its
 * return address, saved frame pointer and the spill slots of its own worst
 * call site. Left to its heuristics C2 decides per JVM: {@code enter} inlined
 * {@code enter0} and {@link Tasklet#run} in some JVMs and not in others
 * ("already compiled into a big method", depending on which got compiled
 * first), so W1's chunk was 20, 26 or 28 words from one JVM to the next.
 * Forcing those two (once per tasklet, never hot) into {@code enter}'s
 * compile makes the one-frame shape the usual one (doc/adr/0011). A
 * tasklet's end ({@code Node.terminate}, {@code CrashHandler.crashed}) is
 * kept out of that compile: inlined, it is never on a waiting tasklet's stack
 * yet its call sites widened the frame, and whether C2 inlined it depended on
 * the JVM ({@code Signals.terminate} "too big" in one, "inline (hot)" in the
 * next: 20 against 22 or 28 words, PrintInlining of the final compile).
 *
 * <p>Best effort: on a JVM without the DiagnosticCommand MBean nothing
 * happens. System property {@code tasklet.compiler-hints=false} turns it off.
 */
final class CompilerHints {
  private static final String[] OUT_OF_LINE = {
    "tasklet.kernel.Mailbox::scan", "tasklet.kernel.Tasklet::handled", "tasklet.kernel.Tasklet::checkExit",
    "tasklet.kernel.Tasklet::begin"
  };
  /** Inlined into the compile of {@code Continuation.enter}: see the class comment. */
  private static final String[] INTO_ENTRY = {
    "jdk.internal.vm.Continuation::enter0", "tasklet.kernel.Tasklet::run"
  };
  /** Kept out of {@code enter}'s compile: a tasklet's end (see the class comment). */
  private static final String[] OUT_OF_ENTRY = {
    "tasklet.kernel.Node::terminate", "tasklet.kernel.CrashHandler::crashed"
  };
  private static volatile boolean installed;

  private CompilerHints() {}

  private static String inlineList(String[] methods, char sign) {
    StringBuilder list = new StringBuilder();
    for (String m : methods) list.append(list.length() == 0 ? "" : ", ").append('"').append(sign).append(m).append('"');
    return list.toString();
  }

  static synchronized void install() {
    if (installed || "false".equals(System.getProperty("tasklet.compiler-hints"))) return;
    installed = true;
    String out = inlineList(OUT_OF_LINE, '-');
    String entry = inlineList(INTO_ENTRY, '+') + ", " + inlineList(OUT_OF_ENTRY, '-') + ", " + out;
    // the first directive that matches a method being compiled applies to it alone
    String json = "[ { match: \"jdk.internal.vm.Continuation::enter\", c2: { inline: [" + entry + "] } },"
        + " { match: \"*.*\", c1: { inline: [" + out + "] }, c2: { inline: [" + out + "] } } ]";
    Path f = null;
    try {
      f = Files.createTempFile("tasklet-directives", ".json");
      Files.writeString(f, json);
      ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerDirectivesAdd",
          new Object[] {new String[] {f.toString()}}, new String[] {String[].class.getName()});
    } catch (Throwable e) {
      System.getLogger("tasklet").log(System.Logger.Level.DEBUG, "compiler directives not installed", e);
    } finally {
      try {
        if (f != null) Files.deleteIfExists(f);
      } catch (Exception ignored) {
        // a temp file left behind is harmless
      }
    }
  }
}
