(ns tasklet.core.layering-test
  "The layers load as they are drawn: tasklet.core and the behaviours built
  on it (server, supervisor, statem, task, sys) load neither the node layer
  nor its codec (Nippy), and spawn-on works without them (checked in a fresh
  JVM, since this one has loaded everything); and the behaviours reach the
  kernel only through tasklet.core and tasklet.impl.process."
  (:require [clojure.edn :as edn]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [clojure.test :refer [deftest is]]
            [tasklet.core.support :refer [run-jvm]]))

(set! *warn-on-reflection* true)

(def ^:private probe
  (pr-str
    '(do (require 'tasklet.core 'tasklet.server 'tasklet.supervisor 'tasklet.statem 'tasklet.task 'tasklet.sys)
         (let [heavy '[tasklet.node tasklet.impl.dist tasklet.impl.codec taoensso.nippy]
               loaded (fn [] (vec (filter find-ns heavy)))
               kind (fn [f] (try (f) :no-error
                                 (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e)))))
               me (tasklet.core/self)
               here (:node (tasklet.core/runtime-info))
               before (loaded)
               _ (tasklet.core/spawn-on 'tasklet.core/! me :ran)
               _ (tasklet.core/spawn-on here #'tasklet.core/! me :ran-here)
               ran [(tasklet.core/receive :ran :ran (after 5000 :timeout))
                    (tasklet.core/receive :ran-here :ran-here (after 5000 :timeout))]
               result {:loaded-before before
                       :ran ran
                       :elsewhere (kind #(tasklet.core/spawn-on :elsewhere 'tasklet.core/! me :x))
                       :unqualified (kind #(tasklet.core/spawn-on 'identity 1))
                       :no-var (kind #(tasklet.core/spawn-on 'tasklet.core/no-such-fn 1))
                       :remote-info (tasklet.core/process-info (tasklet.core/read-pid [:elsewhere 1 1]))
                       :loaded-after (loaded)}]
           (println "RESULT" (pr-str result))
           (shutdown-agents)))))

(deftest core-and-behaviours-load-no-node-layer-and-spawn-on-runs-here
  (let [[code out] (run-jvm [] probe)
        line (some #(when (str/starts-with? % "RESULT ") (subs % 7)) (str/split-lines out))
        r (some-> line edn/read-string)]
    (is (= 0 code) out)
    (is (= {:loaded-before []
            :ran [:ran :ran-here]
            :elsewhere :not-connected
            :unqualified :badarg
            :no-var :badarg
            :remote-info nil
            :loaded-after []}
           r)
        out)))

(def ^:private behaviours
  "The files of the behaviours built on tasklet.core, and their internals."
  ["tasklet/server.clj" "tasklet/statem.clj" "tasklet/supervisor.clj" "tasklet/task.clj"
   "tasklet/pg.clj" "tasklet/sys.clj" "tasklet/impl/call.clj" "tasklet/impl/start.clj"
   "tasklet/impl/server_loop.clj" "tasklet/impl/supervisor_spec.clj"
   "tasklet/impl/supervisor_children.clj" "tasklet/impl/supervisor_restart.clj"
   "tasklet/impl/supervisor_dynamic.clj" "tasklet/impl/supervisor_sys.clj"
   "tasklet/impl/task_supervisor.clj"])

(deftest behaviours-name-no-kernel-class
  (doseq [f behaviours]
    (let [text (slurp (io/file "src-clj" f))]
      (is (not (re-find #"tasklet\.(kernel|net|dist)\b" text))
          (str f " names a kernel or transport class; go through tasklet.core or tasklet.impl.process")))))
