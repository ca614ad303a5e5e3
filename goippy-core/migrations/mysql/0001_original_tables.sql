-- The four tables of the original goippy, with its column names and types,
-- created only where they do not exist yet. A database the original goippy
-- created is already at this point (goippy first adds any column an older
-- version lacked and converts tables to utf8mb4, see src/store/legacy.rs),
-- and a new one gets here the same way, so every later migration upgrades
-- both alike.

CREATE TABLE IF NOT EXISTS goippy_gateways (
    id          INT AUTO_INCREMENT PRIMARY KEY,
    ext         VARCHAR(32) UNIQUE,
    goip_id     VARCHAR(64) UNIQUE,
    goip_pass   VARCHAR(64),
    channel     INT,
    msisdn      VARCHAR(32),
    allow_regex VARCHAR(255),
    enabled     TINYINT(1) DEFAULT 1,
    created_at  TIMESTAMP DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS goippy_state (
    id             INT AUTO_INCREMENT PRIMARY KEY,
    goip_id        VARCHAR(64) UNIQUE,
    ext            VARCHAR(32),
    msisdn         VARCHAR(32),
    gsm_signal     INT,
    gsm_status     VARCHAR(32),
    voip_status    VARCHAR(32),
    voip_state     VARCHAR(64),
    remain_time    INT,
    provider       VARCHAR(64),
    disable_status TINYINT(1),
    updated_at     TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX (ext),
    INDEX (msisdn)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS goippy_calls (
    id         BIGINT AUTO_INCREMENT PRIMARY KEY,
    ts         INT,
    goip_id    VARCHAR(64),
    ext        VARCHAR(32),
    direction  TINYINT,
    remote_num VARCHAR(32),
    cause      VARCHAR(32),
    msisdn     VARCHAR(32),
    raw        VARCHAR(255),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    INDEX (goip_id),
    INDEX (ext),
    INDEX (remote_num)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS goippy_log (
    id         BIGINT AUTO_INCREMENT PRIMARY KEY,
    dir        ENUM('in', 'out'),
    msisdn     VARCHAR(32),
    xmpp_jid   VARCHAR(255),
    body       TEXT,
    status     VARCHAR(64),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
