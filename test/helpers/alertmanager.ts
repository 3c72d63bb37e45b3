// Alertmanager routing every alert to Cutover's hook with its bearer token, grouped per alert and
// namespace (as the README's Alert hooks section configures it), on test timings.
export function cutoverReceiverConfig(hookUrl: string, token: string): string {
  return `route:
  receiver: cutover
  group_by: ['alertname', 'namespace']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: cutover
    webhook_configs:
      - url: ${hookUrl}
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            credentials: ${token}
`;
}
