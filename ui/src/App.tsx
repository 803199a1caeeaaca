import { lazy } from 'react'
import { BrowserRouter, Route, Routes } from 'react-router'
import { Layout } from './components/layout/Layout'

const Dashboard = lazy(() => import('./pages/Dashboard'))
const VmList = lazy(() => import('./pages/VmList'))
const VmDetail = lazy(() => import('./pages/VmDetail'))
const HostList = lazy(() => import('./pages/HostList'))
const HostDetail = lazy(() => import('./pages/HostDetail'))
const TaskDetail = lazy(() => import('./pages/TaskDetail'))
const NotFound = lazy(() => import('./pages/NotFound'))

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Dashboard />} />
        <Route path="vms" element={<VmList />} />
        <Route path="vms/:id" element={<VmDetail />} />
        <Route path="hosts" element={<HostList />} />
        <Route path="hosts/:id" element={<HostDetail />} />
        <Route path="tasks/:id" element={<TaskDetail />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  )
}

export function App() {
  return (
    <BrowserRouter>
      <AppRoutes />
    </BrowserRouter>
  )
}
