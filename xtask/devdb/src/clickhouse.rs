//! A local ClickHouse server for analytics: Debian's `clickhouse-server` (an old
//! 18.16 release; production points `CLICKHOUSE_URL` at a current server), one
//! process per stack, its data in a folder of the stack's, listening on
//! 127.0.0.1 only. `cargo xtask up` runs the development one and the test stacks
//! their own (`NOVA_CLICKHOUSE_SERVER_BIN`); both write its configuration here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where Debian's package puts the server.
pub const SERVER_BIN: &str = "/usr/sbin/clickhouse-server";

/// Write the configuration of a server keeping its data in `dir`, answering
/// HTTP on `http_port` and its native protocol on `tcp_port`; returns the path of
/// the file to pass as `--config-file`. The only user is `default`, with no
/// password, admitted from 127.0.0.1 alone.
pub fn write_config(dir: &Path, http_port: u16, tcp_port: u16) -> Result<PathBuf> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let data = data.display();
    let users = dir.join("users.xml");
    std::fs::write(&users, USERS).with_context(|| format!("writing {}", users.display()))?;
    let config = format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><console>1</console></logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>{data}/</path>
    <tmp_path>{data}/tmp/</tmp_path>
    <user_files_path>{data}/user_files/</user_files_path>
    <format_schema_path>{data}/format_schemas/</format_schema_path>
    <users_config>{users}</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
"#,
        users = users.display(),
    );
    let path = dir.join("config.xml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

const USERS: &str = r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;
