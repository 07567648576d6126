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
 * Likewise the save and restore of the dynamic-binding frame around a yield
 * (ThreadLocal lookups): out of line, the chunk of a tasklet waiting in
 * receive went from 296–368 to 232–248 bytes.
 *
 * <p>Best effort: on a JVM without the DiagnosticCommand MBean nothing
 * happens. System property {@code tasklet.compiler-hints=false} turns it off.
 */
final class CompilerHints {
  private static final String[] OUT_OF_LINE = {
    "tasklet.kernel.Mailbox::scan", "tasklet.kernel.Tasklet::handled", "tasklet.kernel.Tasklet::checkExit",
    "tasklet.kernel.ContinuationStrand::saveContext", "tasklet.kernel.ContinuationStrand::restoreContext"
  };
  private static volatile boolean installed;

  private CompilerHints() {}

  static synchronized void install() {
    if (installed || "false".equals(System.getProperty("tasklet.compiler-hints"))) return;
    installed = true;
    StringBuilder list = new StringBuilder();
    for (String m : OUT_OF_LINE) list.append(list.length() == 0 ? "" : ", ").append("\"-").append(m).append('"');
    String json = "[ { match: \"*.*\", c1: { inline: [" + list + "] }, c2: { inline: [" + list + "] } } ]";
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
