(ns tasklet.seed-test
  "The seed article's example, translated to Clojure on the JVM, works as
  written: a plain defn looping on receive, spawned by a scheduled function."
  (:require [clojure.java.io :as io]
            [clojure.test :refer [deftest is]]
            [tasklet.core :refer [spawn ! receive die schedule monitor]]))

(set! *warn-on-reflection* true)

(defn log-info
  "The seed's logger: write each [:log message] to file; on [:stop], close it and die."
  [^java.io.Writer file]
  (receive [:log message] (do (.write file ^String message) (recur file))
           [:stop]        (do (.close file) (die))))

(defn log-hello-world
  "The seed's driver: spawn a logger, send it two lines and stop it; returns the logger's pid."
  [path]
  (let [pid (spawn log-info (io/writer path))]
    (! pid [:log "Hello\n"])
    (! pid [:log "World\n"])
    (! pid [:stop])
    pid))

;; (schedule log-hello-world) spawns the logger, which writes both lines in
;; order and ends on [:stop] (already gone when the monitor is made: :noproc).
(deftest seed-example-works-as-written
  (let [f (java.io.File/createTempFile "tasklet-seed" ".log")
        pid (schedule log-hello-world (str f))
        ref (monitor pid)]
    (try
      (is (#{:normal :noproc} (receive [:DOWN ref :process pid reason] reason
                                       (after 5000 :timeout))))
      (is (= "Hello\nWorld\n" (slurp f)))
      (finally (.delete f)))))
