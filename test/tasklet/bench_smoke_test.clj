(ns tasklet.bench-smoke-test
  "Runs every workload of the benchmark suite for every peer at a tiny scale
  (W2 with 1,000 round trips, W1 with 1,000 tasklets...) and checks that each
  figure is a well-formed number, so the suite cannot rot unnoticed. Times
  nothing: no figure is compared with a bound. W5/W6 (a second JVM) are a
  :stress test (`make stress`)."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.bench :as bench]
            [tasklet.bench.remote :as remote]
            [tasklet.bench.util :as u]))

(set! *warn-on-reflection* true)

(defn- number-ok? [x]
  (and (number? x) (not (Double/isNaN (double x))) (not (Double/isInfinite (double x)))))

(def ^:private local-workloads
  "All but W5/W6: those fork a second JVM, whose start alone takes 5-20 s on
  a busy 2-core machine; they have their own :stress test below."
  (disj (set (map first bench/workloads)) :W5 :W6))

(def ^:private suite
  "The local workloads at 1/1000 scale, one run, no warm-up (made once), all
  in this JVM (a JVM per pair is tested once below: 24 of them would take
  minutes)."
  (delay (binding [u/*deadline-ms* 20000]
           (bench/run-suite {:scale 0.001 :runs 1 :warmup false :only local-workloads :shared-jvm true}))))

(defn- figures-ok [w figures]
  (is (not (:error figures)) (str "error: " (:error figures)))
  (if (:na figures)
    (is (str/starts-with? (str (:na figures)) "n/a"))
    (doseq [[_ k label] (filter #(= w (first %)) bench/metrics)
            :let [x (get figures k)]
            :when (some? x)]
      (is (number-ok? x) (str label " = " (pr-str x)))
      ;; heap per process may come out below zero at this scale: GC noise
      (when-not (= k :bytes-per)
        (is (<= 0 (double x)) (str label " = " (pr-str x)))))))

(deftest every-workload-runs-at-a-tiny-scale
  (let [results (:results @suite)]
    (is (= local-workloads (set (keys results))))
    (doseq [[w by-peer] results
            [peer figures] by-peer]
      (testing (str (name w) " " (name peer))
        (figures-ok w figures)))))

(deftest tasklet-figures-are-all-there
  (let [results (:results @suite)]
    (doseq [peer [:tasklet-cont :tasklet-vt]
            [w k] [[:W1 :create-ms] [:W1 :bytes-per] [:W1 :end-ms] [:W2 :rt-per-s] [:W2 :ns-per-hop]
                   [:W3 :create-ms] [:W3 :hops-per-s] [:W4 :msgs-per-s]
                   [:W7 :marked-us] [:W7 :naive-us] [:W8 :call-ns] [:W8 :raw-ns]]]
      (is (number-ok? (get-in results [w peer k])) (str (name w) " " (name peer) " " k)))
    (testing "the selective receive leaves the backlog alone"
      (doseq [peer [:tasklet-cont :tasklet-vt :vthread]]
        (is (= 10000 (get-in results [:W7 peer :backlog-left])))))))

(deftest the-table-has-a-row-per-figure-and-a-column-per-peer
  (let [lines (str/split-lines (bench/table @suite))]
    (is (= (+ 2 (count (filter #(local-workloads (first %)) bench/metrics))) (count lines)))
    (doseq [line lines]
      (is (= (+ 2 (count (:peers @suite))) (count (str/split line #"\|"))) line))))

(deftest ^:stress remote-workloads-run
  (binding [u/*deadline-ms* 60000]
    (let [results (:results (try (bench/run-suite {:scale 0.001 :runs 1 :warmup false :only #{:W5 :W6}})
                                 (finally (remote/stop!))))]
      (doseq [[w by-peer] results
              [peer figures] by-peer]
        (testing (str (name w) " " (name peer))
          (figures-ok w figures)))
      (is (number-ok? (get-in results [:W5 :tasklet-cont :rt-per-s])) (pr-str (:W5 results)))
      (is (number-ok? (get-in results [:W6 :tasklet-cont :msgs-per-s])) (pr-str (:W6 results))))))

(deftest a-pair-runs-in-a-jvm-of-its-own
  (binding [u/*deadline-ms* 60000]
    (let [suite (bench/run-suite {:scale 0.001 :runs 1 :warmup false :only #{:W2}
                                  :peers #{:tasklet-cont :erlang}})
          figures (get-in suite [:results :W2 :tasklet-cont])]
      (figures-ok :W2 figures)
      (is (number-ok? (:rt-per-s figures)) (pr-str figures))
      (testing "the figures came from another JVM"
        (is (number? (:jvm figures)))
        (is (not= (.pid (java.lang.ProcessHandle/current)) (:jvm figures))))
      (testing "Erlang's column runs in this JVM: it is an OS process of its own anyway"
        (is (nil? (get-in suite [:results :W2 :erlang :jvm])))))))

(deftest options-parse
  (is (= {:scale 0.1 :runs 3 :warmup true :only #{:W2 :W4}}
         (bench/parse-args ["--quick" "--only" "w2,W4"])))
  (is (= {:scale 0.5 :runs 1 :warmup false :peers #{:async}}
         (bench/parse-args ["--scale" "0.5" "--runs" "1" "--no-warmup" "--peers" "async"])))
  (is (= {:scale 1.0 :runs 3 :warmup true :shared-jvm true :child [:W3 :tasklet-cont]}
         (bench/parse-args ["--shared-jvm" "--child" "W3,tasklet-cont"]))))
