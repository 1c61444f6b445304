//! Driving the real `mvn` client offline: Debian's repository stands in for Maven Central,
//! Packistry is the deployment target and a second remote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{in_ci, TestServer};

const DEBIAN_REPO: &str = "/usr/share/maven-repo";

/// Whether mvn and Debian's plugin repository are installed. Under `CI=true` a missing
/// client is a failure, never a skip.
pub fn available() -> bool {
    let found = Command::new("mvn")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new(DEBIAN_REPO)
            .join("org/apache/maven/plugins/maven-deploy-plugin")
            .exists();
    if !found {
        assert!(!in_ci(), "mvn or Debian's maven plugins are missing: run scripts/install-tools.sh test (CI=true never skips it)");
        eprintln!("skipping: mvn is not installed (scripts/install-tools.sh test)");
    }
    found
}

/// A Maven workspace: settings.xml with Debian's repository as central, Packistry as
/// `packistry` (a repository and a server entry with the token), and a private local repo.
pub struct Maven {
    pub dir: tempfile::TempDir,
    pub repository_url: String,
}

impl Maven {
    pub fn new(server: &TestServer, repository: &str, token: &str) -> Maven {
        let dir = tempfile::tempdir().unwrap();
        let repository_url = server.url(&format!("/maven/{repository}"));
        let settings = format!(
            r#"<settings>
  <localRepository>{local}</localRepository>
  <offline>false</offline>
  <servers>
    <server><id>packistry</id><username>token</username><password>{token}</password></server>
  </servers>
  <profiles>
    <profile>
      <id>offline-central</id>
      <repositories>
        <repository><id>central</id><url>file://{DEBIAN_REPO}</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></repository>
        <repository><id>packistry</id><url>{repository_url}</url><releases><checksumPolicy>fail</checksumPolicy></releases><snapshots><enabled>true</enabled><checksumPolicy>fail</checksumPolicy><updatePolicy>always</updatePolicy></snapshots></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>central</id><url>file://{DEBIAN_REPO}</url><releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>offline-central</activeProfile></activeProfiles>
</settings>
"#,
            local = dir.path().join("local-repo").display(),
        );
        std::fs::write(dir.path().join("settings.xml"), settings).unwrap();
        Maven {
            dir,
            repository_url,
        }
    }

    /// A fresh local repository, so what resolves comes from the servers.
    pub fn forget_local(&self) {
        let _ = std::fs::remove_dir_all(self.dir.path().join("local-repo"));
    }

    /// Write a jar project `group:artifact:version` whose class `{Name}` returns `message`,
    /// depending on `dependencies` (`group:artifact:version`).
    pub fn project(
        &self,
        folder: &str,
        coordinates: &str,
        dependencies: &[&str],
        java: &str,
    ) -> PathBuf {
        let [group, artifact, version]: [&str; 3] = coordinates
            .split(':')
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let root = self.dir.path().join(folder);
        let deps: String = dependencies
            .iter()
            .map(|d| {
                let [g, a, v]: [&str; 3] = d.split(':').collect::<Vec<_>>().try_into().unwrap();
                format!("<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>")
            })
            .collect();
        let pom = format!(
            r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
  <name>{artifact}</name>
  <properties>
    <maven.compiler.source>1.8</maven.compiler.source>
    <maven.compiler.target>1.8</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>{deps}</dependencies>
  <distributionManagement>
    <repository><id>packistry</id><url>{url}</url></repository>
    <snapshotRepository><id>packistry</id><url>{url}</url></snapshotRepository>
  </distributionManagement>
</project>
"#,
            url = self.repository_url
        );
        let package = group.replace('.', "/");
        let sources = root.join("src/main/java").join(&package);
        std::fs::create_dir_all(&sources).unwrap();
        std::fs::write(root.join("pom.xml"), pom).unwrap();
        let class = java
            .split("class ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("Main");
        std::fs::write(
            sources.join(format!("{class}.java")),
            format!("package {group};\n\n{java}\n"),
        )
        .unwrap();
        root
    }

    /// Run mvn in a folder with these settings.
    pub fn mvn(&self, folder: &Path, args: &[&str]) -> Output {
        // A bound on each run, so a hang fails the test instead of stalling the suite.
        Command::new("timeout")
            .arg("300")
            .arg("mvn")
            .arg("-B")
            .arg("-s")
            .arg(self.dir.path().join("settings.xml"))
            .args(args)
            .current_dir(folder)
            .output()
            .expect("mvn runs")
    }
}
