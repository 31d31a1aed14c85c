// Small text helpers shared by the panels.
import { trans } from './i18n';

export function age(ts: number, now: number = Date.now() / 1000): string {
  return trans().__('%1 ago', duration(now - ts));
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${s % 60}s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  }
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function num(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '–';
  }
  return Math.abs(value) >= 1000 ? value.toFixed(0) : Number(value.toPrecision(digits)).toString();
}

export function percent(value: number): string {
  return `${Number(value.toFixed(1))}%`;
}

export function clock(ts: number): string {
  return new Date(ts * 1000).toLocaleTimeString();
}
