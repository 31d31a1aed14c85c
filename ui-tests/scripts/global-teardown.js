// Stop the jobs and the control plane the UI tests started.
const { stopBackend } = require('./backend');

module.exports = async () => {
  stopBackend();
};
