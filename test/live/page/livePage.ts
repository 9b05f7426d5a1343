// A minimal live page for the browser test: the counter's value, an add button, the end notice.
import { connectLive } from 'session-process/client';

const count = document.getElementById('count')!;
const notice = document.getElementById('notice')!;
const live = connectLive<{ count: number }>(`ws://${location.host}/live`, {
  onSnapshot: ({ view }) => {
    count.textContent = String(view.count);
  },
  onEnded: (reason) => {
    notice.textContent = `Your session ended (${reason}).`;
    notice.hidden = false;
  },
  onError: (err) => {
    notice.textContent = `Live view refused: ${err.code}`;
    notice.hidden = false;
  },
});
(window as { live?: typeof live }).live = live;
document.getElementById('add')!.addEventListener('click', () => live.send({ type: 'add_one' }));
