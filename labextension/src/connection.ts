// The push socket, kept open by a Lumino Poll: a dropped connection is tried
// again after a second, then with exponential backoff (up to 30 s) while the
// server does not answer. Each message is parsed here; a malformed one (not
// JSON, no type, or a shape the model cannot fold in) is logged with
// console.warn and dropped, and the socket stays open.
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { PushMessage } from './tokens';

/** `connecting`: the first try; `live`: open; `reconnecting`: lost, trying again with backoff. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting';

export interface IConnectionOptions {
  /** Opens a new socket (PaiApi.openPush). */
  open: () => WebSocket;
  /** Called with each well-formed message. */
  onMessage: (message: PushMessage) => void;
  /** First retry delay (ms); doubles on each failed try. */
  retryMs?: number;
  /** The longest delay between tries (ms). */
  maxRetryMs?: number;
}

export class PushConnection {
  constructor(private readonly _options: IConnectionOptions) {
    const interval = _options.retryMs ?? 1000;
    this._poll = new Poll({
      auto: false,
      factory: () => this._connect(),
      frequency: { interval, backoff: true, max: _options.maxRetryMs ?? 30_000 },
      // Keep the socket while the tab is hidden: notifications of ended jobs come through it.
      standby: 'never',
      name: 'pai-jupyter:push'
    });
    this._poll.ticked.connect((_, tick) => {
      if (tick.phase === 'rejected') {
        this._failures += 1;
        this._retryAt = tick.timestamp + tick.interval;
        this._setState('reconnecting');
      }
    });
  }

  /** Emitted when `state` changes. */
  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Tries since the socket was last open. */
  get failures(): number {
    return this._failures;
  }

  /** When the next try starts (ms since the epoch); 0 when not reconnecting. */
  get retryAt(): number {
    return this._state === 'reconnecting' ? this._retryAt : 0;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  start(): void {
    void this._poll.start();
  }

  /** Send a JSON message if the socket is open; false when it is not (the next open resends). */
  send(message: unknown): boolean {
    const socket = this._socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return false;
    }
    socket.send(JSON.stringify(message));
    return true;
  }

  dispose(): void {
    const socket = this._socket;
    this._socket = null;
    socket?.close();
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * One try: resolves when an opened socket closes (the poll then tries again after
   * the base interval), rejects when it closes without ever opening (backoff grows).
   */
  private _connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      let socket: WebSocket;
      try {
        socket = this._options.open();
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this._socket = socket;
      socket.onopen = () => {
        opened = true;
        this._failures = 0;
        this._setState('live');
      };
      socket.onmessage = event => {
        const message = parseMessage(event.data);
        if (!message) {
          return;
        }
        try {
          this._options.onMessage(message);
        } catch (error) {
          console.warn(
            'pai-jupyter: ignored a push message the sidebar cannot use:',
            message,
            error
          );
        }
      };
      socket.onclose = () => {
        if (this._socket === socket) {
          this._socket = null;
        }
        if (this.isDisposed) {
          resolve();
          return;
        }
        if (opened) {
          this._setState('reconnecting');
          this._retryAt = Date.now() + (this._options.retryMs ?? 1000);
          resolve();
        } else {
          reject(new Error('the PAI push socket closed before it opened'));
        }
      };
    });
  }

  private _setState(state: ConnectionState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    } else if (state === 'reconnecting') {
      this._stateChanged.emit(state); // a new try: the countdown changed
    }
  }

  private _poll: Poll;
  private _socket: WebSocket | null = null;
  private _state: ConnectionState = 'connecting';
  private _failures = 0;
  private _retryAt = 0;
  private _stateChanged = new Signal<this, ConnectionState>(this);
}

/** A push message, or null (logged) when the data is not one. */
export function parseMessage(data: unknown): PushMessage | null {
  let message: unknown;
  try {
    message = JSON.parse(String(data));
  } catch {
    console.warn(
      'pai-jupyter: ignored a push message that is not JSON:',
      String(data).slice(0, 200)
    );
    return null;
  }
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  ) {
    console.warn('pai-jupyter: ignored a push message without a type:', message);
    return null;
  }
  return message as PushMessage;
}
