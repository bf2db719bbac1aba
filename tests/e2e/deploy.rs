//! The deployment files. No Docker engine runs here, so they are checked as far as they can
//! be without one: the compose file parses, names the images, ports, volumes and health
//! checks the README describes, and its jidconnect settings pass jidconnect's own
//! configuration checks.

use std::path::Path;

use jidconnect::config::Config;
use yaml_rust2::{Yaml, YamlLoader};

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn compose() -> Yaml {
    YamlLoader::load_from_str(&read("docker-compose.yml"))
        .expect("valid YAML")
        .remove(0)
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A service's `environment`, its `<<` merge key (the shared settings) expanded as docker
/// compose does, each value substituted.
fn environment(service: &Yaml) -> Vec<(String, String)> {
    let own = service["environment"].as_hash().expect("a map");
    let merged = own
        .get(&Yaml::String("<<".into()))
        .and_then(Yaml::as_hash)
        .into_iter()
        .flatten();
    let own = own.iter().filter(|(k, _)| k.as_str() != Some("<<"));
    merged
        .chain(own)
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_owned(),
                substitute(v.as_str().unwrap()),
            )
        })
        .collect()
}

/// `${NAME:?message}` → a value, as docker compose substitutes it.
fn substitute(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${…}") + start;
        let name = rest[start + 2..end].split(':').next().unwrap();
        out.push_str(&format!("test-{}", name.to_lowercase()));
        rest = &rest[end + 1..];
    }
    out + rest
}

#[test]
fn compose_names_the_documented_services_images_ports_and_volumes() {
    let compose = compose();
    let services = &compose["services"];
    assert_eq!(
        services["postgres"]["image"].as_str(),
        Some("postgres:16-bookworm")
    );
    assert_eq!(
        services["prosody"]["image"].as_str(),
        Some("prosody/prosody:0.12")
    );
    assert_eq!(services["jidconnect"]["build"].as_str(), Some("."));
    assert_eq!(
        strings(&services["jidconnect"]["ports"]),
        ["127.0.0.1:8080:8080"]
    );
    assert_eq!(
        strings(&services["prosody"]["ports"]),
        ["5222:5222", "5269:5269"]
    );
    let declared: Vec<String> = compose["volumes"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        declared,
        [
            "postgres-data",
            "prosody-data",
            "prosody-certs",
            "jidconnect-keys"
        ]
    );
    let readme = read("README.md");
    for (name, service) in services.as_hash().unwrap() {
        let name = name.as_str().unwrap();
        assert!(
            !service["healthcheck"]["test"].is_badvalue(),
            "{name} has a health check"
        );
        for mount in strings(&service["volumes"]) {
            let source = mount.split(':').next().unwrap();
            if source.starts_with("./") {
                assert!(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join(source).exists(),
                    "{source} exists"
                );
            } else {
                assert!(
                    declared.contains(&source.to_owned()),
                    "{name}: volume {source} is declared"
                );
            }
        }
    }
    for documented in [
        "jidconnect-keys",
        "postgres-data",
        "prosody-data",
        "127.0.0.1:8080",
        "5222",
        "5269",
        "/healthz",
    ] {
        assert!(
            readme.contains(documented),
            "README.md describes {documented}"
        );
    }
}

#[test]
fn compose_settings_pass_jidconnect_configuration_checks() {
    let compose = compose();
    let service = &compose["services"]["jidconnect"];
    let env = environment(service);
    let config = Config::load(None, env).expect("the compose settings are a valid configuration");
    assert_eq!(
        config.database_url,
        "postgres://jidconnect:test-postgres_password@postgres/jidconnect"
    );
    assert_eq!(config.listen.port(), 8080);
    let keys_mount = strings(&service["volumes"])
        .into_iter()
        .find(|m| m.starts_with("jidconnect-keys:"))
        .unwrap();
    assert_eq!(
        keys_mount.split(':').nth(1),
        Some(config.keys_dir.to_str().unwrap()),
        "keys live on the volume"
    );
    // The Prosody side agrees on the component's name and port.
    // The scale-out profile's second instance: the same settings, on the next port.
    // Each with its own address for the other's hand-offs.
    let second = &compose["services"]["jidconnect-2"];
    let (mut first_env, mut second_env) = (environment(service), environment(second));
    for (env, name) in [
        (&mut first_env, "jidconnect"),
        (&mut second_env, "jidconnect-2"),
    ] {
        let at = env.iter().position(|(k, _)| k == "JIDCONNECT_CLUSTER_URL");
        let (_, url) = env.remove(at.expect("JIDCONNECT_CLUSTER_URL"));
        assert_eq!(url, format!("http://{name}:8080"));
    }
    assert_eq!(first_env, second_env);
    Config::load(None, environment(second)).expect("the second instance's settings are valid");
    assert_eq!(strings(&second["profiles"]), ["scale-out"]);
    assert_eq!(strings(&second["ports"]), ["127.0.0.1:8081:8080"]);
    assert_eq!(strings(&second["volumes"]), strings(&service["volumes"]));
    let prosody = read("deploy/prosody/prosody.cfg.lua");
    assert!(prosody.contains(&format!("Component \"{}\"", config.xmpp.component_jid)));
    let port = config.xmpp.server.rsplit(':').next().unwrap();
    assert!(prosody.contains(&format!("component_ports = {{ {port} }}")));
    assert!(prosody.contains("os.getenv(\"COMPONENT_SECRET\")"));
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("EXPOSE 8080") && dockerfile.contains("HEALTHCHECK"));
    assert!(dockerfile.contains("USER jidconnect"), "not root");
}

/// Every path the compose file mounts into the jidconnect container exists in the image,
/// owned by the unprivileged user, so that a new named volume there is writable by it
/// (Docker copies the directory's owner into an empty volume).
#[test]
fn dockerfile_creates_the_mount_points_for_the_unprivileged_user() {
    let dockerfile = read("Dockerfile");
    let runtime = dockerfile
        .rsplit_once("\nFROM ")
        .expect("a multi-stage build")
        .1;
    let (as_root, _) = runtime
        .split_once("\nUSER jidconnect")
        .expect("USER jidconnect in the runtime stage");
    let compose = compose();
    for mount in strings(&compose["services"]["jidconnect"]["volumes"]) {
        let target = mount.split(':').nth(1).unwrap();
        assert!(
            as_root.lines().any(|line| line.contains("install -d")
                && line.contains("-o jidconnect -g jidconnect")
                && line.split_whitespace().any(|word| word == target)),
            "the Dockerfile creates {target} owned by jidconnect before USER:\n{runtime}"
        );
    }
}

#[test]
fn dockerignore_keeps_build_output_keys_and_history_out_of_the_context() {
    let ignored = read(".dockerignore");
    let patterns: Vec<&str> = ignored
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for wanted in [
        "target",
        ".demo",
        "keys/*.pem",
        ".git",
        "tests/browser/node_modules",
        "tests/browser/artifacts",
    ] {
        assert!(patterns.contains(&wanted), ".dockerignore lists {wanted}");
    }
}
