(ns tasklet.build-test
  "project.clj is the source of truth for the build; deps.edn and build.clj
  offer the same library to tools.deps users. These tests read the three
  files as data (no Leiningen, no tools.build, no kernel) and fail with a
  diff when they drift apart: dependencies, the :dev test dependencies,
  repositories, paths, the javac options and the continuation JVM option.
  The last tests feed the same checks deliberately drifted copies, so a
  check that could never fail would show up here."
  (:require [clojure.edn :as edn]
            [clojure.java.io :as io]
            [clojure.pprint :as pp]
            [clojure.set :as set]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Reading the files

(defn- read-forms
  "All top-level forms of a Clojure source file, read as data (*read-eval* off)."
  [path]
  (with-open [r (java.io.PushbackReader. (io/reader (io/file path)))]
    (binding [*read-eval* false]
      (loop [forms []]
        (let [form (read {:eof ::eof} r)]
          (if (= ::eof form)
            forms
            (recur (conj forms form))))))))

(defn- read-project
  "project.clj's defproject as a map, with :name and :version added. The form
  is read, not evaluated: an unquote (~) in it would never run, so none is
  allowed (the build is the same on every machine)."
  [path]
  (let [[_ pname version & kvs :as form]
        (or (first (filter #(and (seq? %) (= 'defproject (first %))) (read-forms path)))
            (throw (ex-info (str path " has no defproject form") {:path path})))]
    (when (odd? (count kvs))
      (throw (ex-info (str path ": defproject needs key/value pairs after the version") {:form form})))
    (let [m (apply hash-map kvs)
          unquote? #(and (seq? %) (= 'clojure.core/unquote (first %)))
          outside m]
      (when (some unquote? (tree-seq coll? seq outside))
        (throw (ex-info (str path " uses ~ (evaluated) forms;"
                             " this test reads it as data only")
                        {:path path})))
      (assoc m :name pname :version version))))

(defn- read-deps-edn [path]
  (edn/read-string (slurp path)))

(defn- read-build-defs
  "The literal values of build.clj's top-level (def name value) forms, by
  name; a quoted value is unquoted."
  [path]
  (into {}
        (for [form (read-forms path)
              :when (and (seq? form) (= 'def (first form)) (= 3 (count form)))
              :let [[_ sym value] form]]
          [sym (if (and (seq? value) (= 'quote (first value))) (second value) value)])))

(defn- build-fns
  "The names of build.clj's top-level defn forms."
  [path]
  (set (for [form (read-forms path)
             :when (and (seq? form) (= 'defn (first form)))]
         (second form))))

(def ^:private files
  {:project "project.clj" :deps "deps.edn" :build "build.clj"})

;; ---------------------------------------------------------------------------
;; Normalising dependencies to {lib {:version .. :classifier .. :exclusions #{..}}}
;;
;; The key is the lib as tools.deps spells it: group/artifact, plus
;; $classifier when there is one, so that two classifiers of one artifact
;; (say epoll for x86_64 and for aarch_64) stay two entries. The classifier is
;; also in the value.

(defn- qualify
  "Leiningen's `foo` means foo/foo; tools.deps always writes group/artifact."
  [lib]
  (let [lib (symbol lib)]
    (if (namespace lib) lib (symbol (name lib) (name lib)))))

(defn- lib-key [lib classifier]
  (let [lib (qualify lib)]
    (if classifier
      (symbol (namespace lib) (str (name lib) "$" classifier))
      lib)))

(defn- unique-map
  "A map from [k v] pairs that refuses duplicate keys, naming them."
  [what pairs]
  (reduce (fn [m [k v]]
            (when (contains? m k)
              (throw (ex-info (str what " lists " k " twice") {:lib k})))
            (assoc m k v))
          {} pairs))

(defn normalise-lein-deps
  "Leiningen :dependencies ([lib version & {:keys [classifier exclusions]}])
  as {lib-key {:version :classifier :exclusions}}."
  [deps]
  (unique-map
   "project.clj"
   (for [[lib version & opts] deps
         :let [{:keys [classifier exclusions]} (apply hash-map opts)]]
     [(lib-key lib classifier)
      {:version version
       :classifier classifier
       :exclusions (set (map #(qualify (if (vector? %) (first %) %)) exclusions))}])))

(defn normalise-tools-deps
  "tools.deps :deps ({group/artifact$classifier coord}) as
  {lib-key {:version :classifier :exclusions}}. A coordinate that is not
  :mvn/version (git, local) keeps the whole coordinate as :version, so it
  shows up as a difference."
  [deps]
  (unique-map
   "deps.edn"
   (for [[lib coord] deps
         :let [[artifact classifier] (str/split (name lib) #"\$" 2)]]
     [(lib-key (symbol (namespace lib) artifact) classifier)
      {:version (or (:mvn/version coord) coord)
       :classifier classifier
       :exclusions (set (map qualify (:exclusions coord)))}])))

(defn map-drift
  "Where maps a and b disagree: {key {a-label a-value, b-label b-value}}, in
  key order; empty when they agree. A missing key shows as nil."
  [[a-label a] [b-label b]]
  (into (sorted-map-by #(compare (str %1) (str %2)))
        (for [k (set/union (set (keys a)) (set (keys b)))
              :when (not= (get a k) (get b k))]
          [k {a-label (get a k) b-label (get b k)}])))

(defn dep-drift
  "How project.clj's :dependencies and deps.edn's :deps differ (empty: they agree)."
  [project deps-edn]
  (map-drift ["project.clj :dependencies" (normalise-lein-deps (:dependencies project))]
             ["deps.edn :deps" (normalise-tools-deps (:deps deps-edn))]))

(defn test-dep-drift
  "How project.clj's :dev profile :dependencies and deps.edn's :test alias
  :extra-deps differ (empty: they agree)."
  [project deps-edn]
  (let [dev (get-in project [:profiles :dev])]
    (when-not (map? dev)
      (throw (ex-info "project.clj's :dev profile is not a map (composite profiles are not read here)"
                      {:dev dev})))
    (map-drift ["project.clj :dev :dependencies" (normalise-lein-deps (:dependencies dev))]
               ["deps.edn :test :extra-deps" (normalise-tools-deps
                                              (get-in deps-edn [:aliases :test :extra-deps]))])))

(defn repo-drift
  "How project.clj's :repositories and deps.edn's :mvn/repos differ, by name and url."
  [project deps-edn]
  (map-drift ["project.clj :repositories"
              (into {} (for [[repo-name spec] (:repositories project)]
                         [repo-name (if (map? spec) (:url spec) spec)]))]
             ["deps.edn :mvn/repos"
              (into {} (for [[repo-name spec] (:mvn/repos deps-edn)]
                         [repo-name (:url spec)]))]))

;; ---------------------------------------------------------------------------
;; Normalising javac / JVM options to a set of option groups

(def ^:private options-with-argument
  #{"-source" "-target" "--release" "-encoding" "-d" "-s" "-h"
    "-cp" "-classpath" "--class-path" "-sourcepath" "--source-path"
    "-processorpath" "--processor-path" "-p" "--module-path"
    "--add-exports" "--add-opens" "--add-reads" "--add-modules"
    "--limit-modules" "--patch-module" "--system" "-bootclasspath" "--boot-class-path"})

(defn option-groups
  "Command-line options as a set of groups: [\"-source\" \"21\"], [\"-Xlint:-options\"].
  Order between groups does not matter to javac or java, so it is dropped."
  [opts]
  (loop [[o & more :as opts] (seq opts)
         groups #{}]
    (cond
      (nil? opts) groups
      (contains? options-with-argument o) (recur (next more) (conj groups [o (first more)]))
      :else (recur more (conj groups [o])))))

(def required-javac-groups
  "What both builds must pass javac: Java 21 class files, and jdk.internal.vm
  exported to the unnamed module for the continuation strand."
  #{["-source" "21"] ["-target" "21"] ["--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"]})

(def ^:private add-exports ["--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"])

(defn javac-drift
  "Problems with the javac options of project.clj and build.clj: what one has
  and the other lacks, required options either lacks, and --release (which
  javac refuses together with --add-exports). Empty when all is well."
  [project-opts build-opts]
  (let [p (option-groups project-opts)
        b (option-groups build-opts)
        release? (fn [groups] (some #(= "--release" (first %)) groups))]
    (cond-> {}
      (seq (set/difference p b)) (assoc :only-in-project.clj (set/difference p b))
      (seq (set/difference b p)) (assoc :only-in-build.clj (set/difference b p))
      (seq (set/difference required-javac-groups p))
      (assoc :project.clj-lacks (set/difference required-javac-groups p))
      (seq (set/difference required-javac-groups b))
      (assoc :build.clj-lacks (set/difference required-javac-groups b))
      (release? p) (assoc :project.clj-has-release (filter #(= "--release" (first %)) p))
      (release? b) (assoc :build.clj-has-release (filter #(= "--release" (first %)) b)))))

(defn- show
  "A drift, pretty-printed for a failure message."
  [drift]
  (with-out-str (pp/pprint drift)))

(defn- current []
  {:project (read-project (:project files))
   :deps (read-deps-edn (:deps files))
   :build-defs (read-build-defs (:build files))
   :build-fns (build-fns (:build files))})

;; ---------------------------------------------------------------------------
;; The checks on the real files

(deftest dependencies-agree
  (let [{:keys [project deps]} (current)
        drift (dep-drift project deps)]
    (is (empty? drift)
        (str "project.clj :dependencies and deps.edn :deps disagree; project.clj is the "
             "source of truth, so change deps.edn to match:\n" (show drift)))))

(deftest test-dependencies-agree
  (let [{:keys [project deps]} (current)
        drift (test-dep-drift project deps)]
    (is (empty? drift)
        (str "project.clj's :dev profile :dependencies and deps.edn's :test alias "
             ":extra-deps disagree:\n" (show drift)))))

(deftest repositories-agree
  (let [{:keys [project deps]} (current)
        drift (repo-drift project deps)]
    (is (empty? drift)
        (str "project.clj :repositories and deps.edn :mvn/repos disagree:\n" (show drift)))))

(deftest javac-options-agree
  (let [{:keys [project build-defs]} (current)
        drift (javac-drift (:javac-options project) (get build-defs 'javac-opts))]
    (is (some? (get build-defs 'javac-opts)) "build.clj has no literal (def javac-opts [...])")
    (is (empty? drift)
        (str "project.clj :javac-options and build.clj javac-opts disagree:\n" (show drift)))))

(deftest continuation-jvm-option-in-both
  (let [{:keys [project deps]} (current)
        aliases-with-it (for [[k alias] (:aliases deps)
                              :when (contains? (option-groups (:jvm-opts alias)) add-exports)]
                          k)]
    (is (contains? (option-groups (:jvm-opts project)) add-exports)
        (str "project.clj :jvm-opts lacks " (str/join " " add-exports)))
    (is (seq aliases-with-it)
        (str "no deps.edn alias has :jvm-opts " (str/join " " add-exports)))))

(deftest paths-agree
  (let [{:keys [project deps build-defs]} (current)
        compile-path (:compile-path project "target/classes")
        ;; Leiningen's default :resource-paths is ["resources"]
        lein-paths (concat (:source-paths project) [compile-path]
                           (:resource-paths project ["resources"]))]
    (is (= (set lein-paths) (set (:paths deps)))
        (str "deps.edn :paths " (pr-str (:paths deps)) " should be project.clj's :source-paths, "
             "compile path and :resource-paths " (pr-str (vec lein-paths))))
    (is (set/subset? (set (:test-paths project ["test"]))
                     (set (get-in deps [:aliases :test :extra-paths])))
        "deps.edn's :test alias :extra-paths should include project.clj's :test-paths")
    (is (= (:java-source-paths project) (get build-defs 'java-src-dirs))
        "build.clj java-src-dirs should be project.clj's :java-source-paths")
    (is (= compile-path (get build-defs 'class-dir))
        "build.clj class-dir should be project.clj's compile path")))

(deftest prep-lib-compiles-java
  (let [{:keys [deps build-defs build-fns]} (current)
        {prep-alias :alias prep-fn :fn ensure :ensure} (:deps/prep-lib deps)]
    (is (= :build prep-alias) ":deps/prep-lib :alias should be :build")
    (is (contains? (get-in deps [:aliases prep-alias :deps]) 'io.github.clojure/tools.build)
        "the :build alias should bring in tools.build")
    (is (= 'build (get-in deps [:aliases prep-alias :ns-default]))
        "the :build alias should have :ns-default build")
    (is (contains? build-fns prep-fn) (str "build.clj defines no " prep-fn " for :deps/prep-lib"))
    (is (= ensure (get build-defs 'class-dir))
        ":deps/prep-lib :ensure should be the directory build.clj compiles into")
    (is (some #{ensure} (:paths deps)) ":deps/prep-lib :ensure should be on deps.edn :paths")))

(deftest build-coordinates-agree
  (let [{:keys [project build-defs]} (current)]
    (is (= (:name project) (get build-defs 'lib)) "build.clj lib should be project.clj's name")
    (is (= (:version project) (get build-defs 'version)) "build.clj version should be project.clj's")))

;; ---------------------------------------------------------------------------
;; The checks must fail on drift. These feed them deliberately drifted copies
;; of project.clj, against a deps.edn translated from project.clj itself, so
;; they hold (and fail only for their own reason) whatever the real deps.edn says.

(defn- lein->deps-edn
  "The :deps and :test alias that agree with a project map, in deps.edn's spelling."
  [project]
  (let [translate (fn [deps]
                    (into {} (for [[lib version & opts] deps
                                   :let [{:keys [classifier exclusions]} (apply hash-map opts)]]
                               [(lib-key lib classifier)
                                (cond-> {:mvn/version version}
                                  (seq exclusions) (assoc :exclusions (mapv qualify exclusions)))])))]
    {:deps (translate (:dependencies project))
     :aliases {:test {:extra-deps (translate (get-in project [:profiles :dev :dependencies]))}}}))

(deftest normalisers-read-both-spellings-alike
  (is (= {'com.taoensso/nippy {:version "3.1.3" :classifier nil
                               :exclusions '#{org.clojure/clojure}}
          'io.netty/netty-transport-native-epoll$linux-x86_64
          {:version "4.2.18.Final" :classifier "linux-x86_64" :exclusions #{}}
          'foo/foo {:version "1.0" :classifier nil :exclusions '#{bar/bar}}}
         (normalise-lein-deps '[[com.taoensso/nippy "3.1.3" :exclusions [org.clojure/clojure]]
                                [io.netty/netty-transport-native-epoll "4.2.18.Final"
                                 :classifier "linux-x86_64"]
                                [foo "1.0" :exclusions [[bar :extension "jar"]]]])
         (normalise-tools-deps '{com.taoensso/nippy {:mvn/version "3.1.3"
                                                     :exclusions [org.clojure/clojure]}
                                 io.netty/netty-transport-native-epoll$linux-x86_64
                                 {:mvn/version "4.2.18.Final"}
                                 foo/foo {:mvn/version "1.0" :exclusions [bar]}})))
  (is (= {:version {:git/sha "abc"} :classifier nil :exclusions #{}}
         (get (normalise-tools-deps '{foo/foo {:git/sha "abc"}}) 'foo/foo))
      "a non-Maven coordinate is kept whole, so it differs from any version")
  (is (thrown-with-msg? clojure.lang.ExceptionInfo #"lists foo/foo twice"
                        (normalise-lein-deps '[[foo "1"] [foo/foo "2"]]))))

(deftest drifted-dependencies-are-reported
  (let [{:keys [project]} (current)
        agreeing (lein->deps-edn project)
        drifted (update project :dependencies
                        (fn [ds]
                          (vec (for [[lib :as d] ds]
                                 (case lib
                                   org.clojure/clojure [lib "1.11.4"]
                                   com.taoensso/nippy (vec (take 2 d))
                                   io.netty/netty-transport-native-epoll
                                   (assoc d 3 "linux-aarch_64")
                                   d)))))
        drift (dep-drift drifted agreeing)]
    (is (empty? (dep-drift project agreeing)) "sanity: project.clj agrees with its own translation")
    (is (= '#{org.clojure/clojure com.taoensso/nippy
              io.netty/netty-transport-native-epoll$linux-x86_64
              io.netty/netty-transport-native-epoll$linux-aarch_64}
           (set (keys drift)))
        (show drift))
    (is (= {"project.clj :dependencies" "1.11.4" "deps.edn :deps" "1.12.6"}
           (update-vals (get drift 'org.clojure/clojure) :version)))
    (is (= {"project.clj :dependencies" #{} "deps.edn :deps" '#{org.clojure/clojure}}
           (update-vals (get drift 'com.taoensso/nippy) :exclusions)))
    (testing "a lib missing from deps.edn shows as nil on that side"
      (is (= {"project.clj :dependencies" {:version "1" :classifier nil :exclusions #{}}
              "deps.edn :deps" nil}
             (get (dep-drift (update project :dependencies conj '[extra/lib "1"]) agreeing)
                  'extra/lib))))))

(deftest drifted-test-dependencies-are-reported
  (let [{:keys [project]} (current)
        agreeing (lein->deps-edn project)]
    (is (empty? (test-dep-drift project agreeing)) "sanity: project.clj agrees with its own translation")
    (is (= '(org.clojure/test.check)
           (keys (test-dep-drift project (update-in agreeing [:aliases :test :extra-deps]
                                                    dissoc 'org.clojure/test.check)))))
    (is (= '(org.clojure/core.async)
           (keys (test-dep-drift (update-in project [:profiles :dev :dependencies]
                                            (partial mapv #(if (= 'org.clojure/core.async (first %))
                                                             (assoc % 1 "1.6.681")
                                                             %)))
                                 agreeing))))))

(deftest drifted-javac-options-are-reported
  (let [{:keys [project]} (current)
        opts (:javac-options project)]
    (is (empty? (javac-drift opts opts)) "sanity: the same options are no drift")
    (is (empty? (javac-drift ["-source" "21" "-Xlint:-options" "-target" "21"
                              "--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"]
                             ["--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"
                              "-target" "21" "-source" "21" "-Xlint:-options"]))
        "order between options does not matter")
    (let [without-exports (vec (remove #{"--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"} opts))
          drift (javac-drift opts without-exports)]
      (is (= #{add-exports} (:only-in-project.clj drift)) (show drift))
      (is (= #{add-exports} (:build.clj-lacks drift)) (show drift)))
    (let [drift (javac-drift (into ["--release" "21"] (drop 4 opts))
                             (into ["--release" "21"] (drop 4 opts)))]
      (is (= #{["-source" "21"] ["-target" "21"]} (:project.clj-lacks drift)) (show drift))
      (is (seq (:build.clj-has-release drift)) (show drift)))
    (is (= {:only-in-project.clj #{["-source" "21"]} :only-in-build.clj #{["-source" "17"]}
            :build.clj-lacks #{["-source" "21"]}}
           (javac-drift opts (concat ["-source" "17"] (drop 2 opts)))))))

;; ---------------------------------------------------------------------------
;; A fresh machine: nothing in the build points into a user's home or a Maven
;; cache, or at Debian's file repository (whose jars carry a manifest
;; Class-Path naming Debian's Clojure 1.11; scripts/install-deps.sh).

(defn machine-paths
  "The places where text names a user's home, a local Maven repository or
  Debian's maven-repo."
  [text]
  (re-seq #"user\.home|\.m2/|/root/|/home/|maven-repo|file:" text))

(deftest the-build-names-no-machine-path
  (doseq [f ["project.clj" "deps.edn" "build.clj"]]
    (is (empty? (machine-paths (slurp f)))
        (str f " names a path of one machine: " (vec (machine-paths (slurp f)))))))

(deftest machine-paths-are-found
  (is (seq (machine-paths ":resource-paths [\"/root/.m2/repository/org/clojure/clojure.jar\"]")))
  (is (seq (machine-paths ":repositories [[\"debian\" {:url \"file:///usr/share/maven-repo\"}]]")))
  (is (empty? (machine-paths ":dependencies [[org.clojure/clojure \"1.12.6\"]]"))))

;; Every namespace turns reflection warnings on itself (project.clj has no
;; :global-vars, which would also warn about Leiningen's own init form), so
;; a reflective call anywhere prints a warning when the file loads.
(deftest every-namespace-warns-on-reflection
  (let [files (for [dir ["src-clj" "bench" "test" "examples"]
                    ^java.io.File f (file-seq (io/file dir))
                    :when (and (.isFile f) (str/ends-with? (.getName f) ".clj")
                               (not= "data_readers.clj" (.getName f)))]
                (str f))]
    (is (< 50 (count files)))
    (is (= [] (remove #(str/includes? (slurp %) "(set! *warn-on-reflection* true)") files))
        "these files do not (set! *warn-on-reflection* true) after their ns form")))
