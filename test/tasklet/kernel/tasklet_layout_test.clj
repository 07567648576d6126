(ns tasklet.kernel.tasklet-layout-test
  "The per-tasklet records a million waiting tasklets pay for (issue 15, W1;
  doc/adr/0011): their instance sizes as the JVM's class histogram reports
  them, and that the fields folded together still say what they said."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is]]
            [tasklet.core :as t :refer [receive]])
  (:import [java.lang.management ManagementFactory]
           [javax.management ObjectName]))

(set! *warn-on-reflection* true)

(defn- instance-bytes
  "Bytes per instance of each class in classes, from GC.class_histogram."
  [classes]
  (let [h (str (.invoke (ManagementFactory/getPlatformMBeanServer)
                        (ObjectName. "com.sun.management:type=DiagnosticCommand")
                        "gcClassHistogram" (object-array [(into-array String [])])
                        (into-array String ["[Ljava.lang.String;"])))]
    (into {} (for [line (str/split-lines h)
                   :let [[_ n b c] (re-matches #"\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+).*" line)]
                   :when (and c (contains? classes c))]
               [c (quot (parse-long b) (parse-long n))]))))

(defn- waiter [owner tag _arg]
  (t/! owner [tag :ready])
  (receive :stop :stopped))

;; A Tasklet is at most 96 bytes (112 before the body and the initial function shared a field and the slice
;; counter became a short; 104 before its strand became a flag and its home worker moved into the
;; continuation), a Pid at most 32 (40 while its incarnation was a long), and the continuation object no
;; bigger than the JDK's own fields make it.
(deftest a-tasklet-and-its-pid-are-no-bigger-than-measured
  (let [me (t/self)
        tag (gensym)
        p (t/spawn waiter me tag (Object.))]
    (try
      (receive [tag :ready] :ok (after 5000 (is false "the tasklet never started")))
      (let [sizes (instance-bytes #{"tasklet.kernel.Tasklet" "tasklet.kernel.Pid" "tasklet.kernel.ContinuationStrand$Cont"})]
        (is (<= (sizes "tasklet.kernel.Tasklet") 96))
        (is (<= (sizes "tasklet.kernel.Pid") 32))
        (when (= :continuation (:strand (t/runtime-info)))
          (is (<= (sizes "tasklet.kernel.ContinuationStrand$Cont") 48))))
      ;; spawned with arguments, the body was a closure apart from the function: process-info still names the function
      (is (identical? waiter (:initial-fn (t/process-info p))))
      (finally (t/! p :stop)))))

;; Spawned without arguments the body is the initial function itself, before and after it has started.
(deftest the-initial-fn-of-a-tasklet-without-arguments
  (let [me (t/self)
        f (fn [] (t/! me :ready) (receive :stop :stopped))
        p (t/spawn f)]
    (try
      (receive :ready :ok (after 5000 (is false "the tasklet never started")))
      (is (identical? f (:initial-fn (t/process-info p))))
      (finally (t/! p :stop)))))
