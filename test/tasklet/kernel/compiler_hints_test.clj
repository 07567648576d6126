(ns tasklet.kernel.compiler-hints-test
  "tasklet.kernel.CompilerHints: the JIT directives that keep a waiting
  continuation tasklet's frozen frames small (doc/adr/0011) are installed
  with a continuation node, and parse (a directive file the JVM refuses
  installs nothing, silently)."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is]])
  (:import [java.lang.management ManagementFactory]
           [javax.management ObjectName]
           [tasklet.kernel Node NodeOptions]))

(set! *warn-on-reflection* true)

(defn- directives
  "The JVM's compiler directives as jcmd Compiler.directives_print prints them."
  ^String []
  (str (.invoke (ManagementFactory/getPlatformMBeanServer)
                (ObjectName. "com.sun.management:type=DiagnosticCommand")
                "compilerDirectivesPrint" (object-array [(into-array String [])])
                (into-array String ["[Ljava.lang.String;"]))))

(deftest the-directives-are-installed-with-a-continuation-node
  (let [node (Node. (.build (NodeOptions/builder "hints-test")))]
    (try
      (when (= "continuation" (.strandName node))
        (let [d (directives)
          entry (second (str/split d #"matching: jdk/internal/vm/Continuation\.enter\s"))]
          (is (some? entry) "a directive of its own for Continuation.enter, ahead of the general one")
          (is (str/includes? (str entry) "+jdk/internal/vm/Continuation.enter0, +tasklet/kernel/Tasklet.run")
              "the entry chain is forced into enter's compile")
          (doseq [m ["Mailbox.scan" "Tasklet.begin" "Tasklet.checkExit" "Tasklet.handled"]]
            (is (str/includes? d (str "-tasklet/kernel/" m)) (str m " is kept out of line")))))
      (finally (.shutdown node)))))
