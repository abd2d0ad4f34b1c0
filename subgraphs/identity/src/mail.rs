//! Outgoing e-mail over SMTP (lettre), configured by the seeds' names:
//! `SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_FROM_EMAIL`,
//! plus `SMTP_TLS` (`starttls`, the default; `tls`; or `none` for a local server)
//! and `PASSWORD_RESET_URL`, the front-end page a reset link opens.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use nova_core::config::{optional, parsed_or, required, ConfigError};
use nova_core::metrics::Metrics;
use prometheus::{IntCounterVec, Opts};

/// Sends identity's mail; one per process, cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reset_url: String,
    sent: IntCounterVec,
}

impl Mailer {
    /// `None` when `SMTP_HOST` is not set: password reset then answers that it is
    /// not available on this server.
    pub fn from_env(metrics: &Metrics) -> Result<Option<Self>, ConfigError> {
        let Some(host) = optional("SMTP_HOST") else {
            return Ok(None);
        };
        let malformed = |name: &str, value: String, reason: String| ConfigError::Malformed {
            name: name.to_string(),
            value,
            reason,
        };
        let tls = optional("SMTP_TLS").unwrap_or_else(|| "starttls".into());
        let (builder, default_port) = match tls.as_str() {
            "starttls" => (
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host),
                587,
            ),
            "tls" => (AsyncSmtpTransport::<Tokio1Executor>::relay(&host), 465),
            "none" => (
                Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                    &host,
                )),
                25,
            ),
            _ => {
                return Err(malformed(
                    "SMTP_TLS",
                    tls,
                    "expected starttls, tls or none".into(),
                ))
            }
        };
        let mut builder = builder
            .map_err(|e| malformed("SMTP_HOST", host.clone(), e.to_string()))?
            .port(parsed_or("SMTP_PORT", default_port)?)
            .timeout(Some(Duration::from_secs(10)));
        if let Some(username) = optional("SMTP_USERNAME") {
            let password = required("SMTP_PASSWORD", "the password of SMTP_USERNAME")?;
            builder = builder.credentials(Credentials::new(username, password));
        }
        let from_text = required("SMTP_FROM_EMAIL", "the sender address of Nova's mail")?;
        let from = from_text
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                malformed("SMTP_FROM_EMAIL", from_text.clone(), e.to_string())
            })?;
        let sent = IntCounterVec::new(
            Opts::new(
                "mail_sent_total",
                "Mail handed to the SMTP server, by outcome: sent, failed",
            ),
            &["outcome"],
        )
        .expect("metric definition is valid");
        metrics.register(Box::new(sent.clone()));
        Ok(Some(Self {
            transport: builder.build(),
            from,
            reset_url: optional("PASSWORD_RESET_URL")
                .unwrap_or_else(|| "http://localhost:3000/reset-password".into()),
            sent,
        }))
    }

    /// Send the reset token to `to` in the background, so the answer to the request
    /// takes as long whether or not the address has an account. A failure is logged
    /// and counted; the user can ask again.
    pub fn send_password_reset(&self, to: String, token: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let outcome = match mailer.password_reset(&to, &token).await {
                Ok(()) => "sent",
                Err(error) => {
                    tracing::error!(%error, "password reset mail not sent");
                    "failed"
                }
            };
            mailer.sent.with_label_values(&[outcome]).inc();
        });
    }

    async fn password_reset(&self, to: &str, token: &str) -> anyhow::Result<()> {
        let body = format!(
            "Someone asked to reset the password of your Nova account.\n\n\
             Open this link to choose a new password:\n{url}?token={token}\n\n\
             Or enter this code: {token}\n\n\
             It works once and expires soon. If it was not you, ignore this mail;\n\
             your password stays as it is.\n",
            url = self.reset_url,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject("Reset your Nova password")
            .body(body)?;
        self.transport.send(message).await?;
        Ok(())
    }
}
