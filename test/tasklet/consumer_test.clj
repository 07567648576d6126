(ns ^:consumer tasklet.consumer-test
  "A project of someone else's that depends on tasklet, as a user makes one:
  the library is installed (scripts/install.sh, what `make install` runs)
  from a copy of this checkout into a local Maven repository made for the
  test, and a throwaway Leiningen project that depends on
  [tasklet/tasklet \"<version>\"] runs in its own JVM, with an empty user
  home and that repository as its only local one, so everything else comes
  from Maven Central as on a new machine. It checks the Clojure that runs is
  the one the consumer declares (Debian's jars, which name Clojure 1.11 in
  their manifests, must not win), and that spawn, ! and receive and a local
  child node work there, on virtual threads and with the continuations flag.

  Slow (two JVMs and a child JVM each, plus downloads): tagged :consumer,
  left out of the default selector and run once by `make test`."
  (:require [clojure.edn :as edn]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing]])
  (:import (java.io File)
           (java.nio.file Files)
           (java.nio.file.attribute FileAttribute)
           (java.util.concurrent TimeUnit)))

(set! *warn-on-reflection* true)

(def ^:private clojure-declared "1.12.6")

(defn- temp-dir ^File [prefix]
  (.toFile (Files/createTempDirectory prefix (make-array FileAttribute 0))))

(defn- project-version
  "The version of this checkout's defproject, read as data."
  []
  (with-open [r (java.io.PushbackReader. (io/reader "project.clj"))]
    (binding [*read-eval* false]
      (nth (first (filter #(and (seq? %) (= 'defproject (first %)))
                          (repeatedly #(read {:eof nil} r))))
           2))))

(defn- sh!
  "Run cmd in dir with env overrides; => {:exit n :out s}. Fails the test
  (throws) when it does not end within timeout-s."
  [dir env timeout-s & cmd]
  (let [log (File/createTempFile "tasklet-consumer" ".log")
        pb (doto (ProcessBuilder. ^java.util.List (vec cmd))
             (.directory (io/file dir))
             (.redirectErrorStream true)
             (.redirectOutput log))
        _ (let [e (.environment pb)] (doseq [[k v] env] (.put e k v)))
        p (.start pb)]
    (if (.waitFor p timeout-s TimeUnit/SECONDS)
      {:exit (.exitValue p) :out (slurp log)}
      (do (.destroyForcibly p)
          (throw (ex-info (str (str/join " " cmd) " did not end within " timeout-s " s:\n" (slurp log))
                          {:cmd cmd}))))))

(defn- copy-tree!
  "Copy the files under src (a directory of this checkout) to dst."
  [^File src ^File dst]
  (doseq [^File f (file-seq src)
          :when (.isFile f)
          :let [rel (.relativize (.toPath src) (.toPath f))
                to (.resolve (.toPath dst) rel)]]
    (Files/createDirectories (.getParent to) (make-array FileAttribute 0))
    (Files/copy (.toPath f) to ^"[Ljava.nio.file.CopyOption;" (make-array java.nio.file.CopyOption 0))))

(def ^:private consumer-main
  "The consumer's code: prints one EDN map of what it saw."
  "(ns consumer.core
  (:require [tasklet.core :as t :refer [spawn ! receive self]]
            [tasklet.node :as node]))

(defn echo [] (receive [from msg] (! from [:echo msg])))

(defn answer [to] (! to [:from-child (node/self-node) (clojure-version)]))

(defn -main [& _]
  (let [p (spawn echo)
        _ (! p [(self) :hi])
        echoed (receive [:echo m] m (after 10000 :timeout))
        _ (node/start! {:name :consumer :cookie \"consumer-test-cookie-6f1c0e9a27d4\"})
        [child] (node/start-local-nodes! 1)
        _ (t/spawn-on child #'consumer.core/answer (self))
        from-child (receive [:from-child n v] [n v] (after 60000 :timeout))]
    (prn {:clojure (clojure-version)
          :strand (:strand (t/runtime-info))
          :echo echoed
          :child from-child})
    (node/stop!)
    (shutdown-agents)
    (System/exit 0)))
")

(defn- consumer-project [version repo]
  (pr-str
    (list 'defproject 'consumer "0.0.1"
          :dependencies [['org.clojure/clojure clojure-declared]
                         ['tasklet/tasklet version]]
          :local-repo (str repo)
          :main 'consumer.core
          :profiles {:continuations
                     {:jvm-opts ["--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"
                                 "--enable-native-access=ALL-UNNAMED"]}})))

(defn- result
  "The EDN map the consumer printed last, or nil."
  [out]
  (some->> (str/split-lines out) (filter #(str/starts-with? % "{:clojure")) last edn/read-string))

(deftest ^:consumer a-consumer-project-runs-the-clojure-it-declares
  (let [tmp (temp-dir "tasklet-consumer")
        lib (io/file tmp "lib")
        repo (io/file tmp "repo")
        app (io/file tmp "app")
        home (io/file tmp "home")
        version (project-version)]
    (doseq [d ["src-clj" "src-java" "resources" "scripts"]]
      (copy-tree! (io/file d) (io/file lib d)))
    (io/copy (io/file "project.clj") (io/file lib "project.clj"))
    (.mkdirs home)
    ;; the library's own build uses this machine's local repository (it is
    ;; the library's builder, not the consumer); only the install lands in repo
    (let [{:keys [exit out]} (sh! lib {} 600 "bash" "scripts/install.sh" (str repo))]
      (is (zero? exit) (str "scripts/install.sh failed:\n" out)))
    (io/make-parents (io/file app "src/consumer/core.clj"))
    (spit (io/file app "project.clj") (consumer-project version repo))
    (spit (io/file app "src/consumer/core.clj") consumer-main)
    (let [env {"HOME" (str home) "LEIN_JVM_OPTS" (str "-Duser.home=" home)}]
      (doseq [[profile strand] [["-user" :virtual] ["+continuations" :continuation]]]
        (testing (str "lein with-profile " profile " run")
          (let [{:keys [exit out]} (sh! app env 600 "lein" "with-profile" profile "run")
                r (result out)]
            (is (zero? exit) out)
            (is (= clojure-declared (:clojure r)) (str "the consumer ran another Clojure:\n" out))
            (is (= strand (:strand r)) out)
            (is (= :hi (:echo r)) out)
            (is (= [:consumer-1 clojure-declared] (:child r))
                (str "the local child node did not answer, or ran another Clojure:\n" out))))))))
