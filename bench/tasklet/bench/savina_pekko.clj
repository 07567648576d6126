(ns tasklet.bench.savina-pekko
  "The three Savina workloads (see tasklet.bench.savina-tasklet) on Apache
  Pekko classic actors (org.apache.pekko/pekko-actor_2.13, in project.clj's
  :bench profile only). One ActorSystem per JVM, its default dispatcher a
  fork-join executor of exactly `parallelism` threads (-Dtasklet.bench.pekko.
  parallelism, else the number of cores), throughput 5 (Pekko's default).

  The actors themselves live in tasklet/bench/savina_pekko_actors.clj, a file
  without an ns form loaded into this namespace only when Pekko is on the
  classpath: `lein check` and `lein test` compile every namespace under bench/
  without the :bench profile, where type-hinted Pekko code could not compile.
  Without Pekko every workload answers {:na why}."
  (:require [tasklet.bench.util :as u]))

(set! *warn-on-reflection* true)

(def pekko?
  "Whether Pekko is on the classpath (lein bench's :bench profile)."
  (try (Class/forName "org.apache.pekko.actor.ActorSystem") true
       (catch ClassNotFoundException _ false)))

(defn parallelism
  "The dispatcher's thread count: tasklet.bench.pekko.parallelism, else the cores."
  ^long []
  (long (or (some-> (System/getProperty "tasklet.bench.pekko.parallelism") Long/parseLong)
            (.availableProcessors (Runtime/getRuntime)))))

(declare big* chameneos* fjc*)

(when pekko? (load "savina_pekko_actors"))

(def ^:private missing {:na "n/a (Pekko is on the classpath only under lein bench's :bench profile)"})

(defn big "Savina Big on Pekko: msgs/s (pings and pongs)." [params]
  (if pekko? (big* params) missing))

(defn chameneos "Savina Chameneos on Pekko: meetings/s." [params]
  (if pekko? (chameneos* params) missing))

(defn fjc "Savina Fork-Join create on Pekko: actors/s." [params]
  (if pekko? (fjc* params) missing))
