//! RTSP replay of the sim's recording (filled in next).
